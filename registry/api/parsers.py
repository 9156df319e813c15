"""A multipart parser that remembers file names sent with a path.

Django quietly strips directories from uploaded file names ("../../x.pkl" becomes "x.pkl").
Signoff refuses such uploads instead, so that a client learns its request was wrong; this
parser keeps the name as sent in ``client_name`` for ``registry.validation`` to judge.
"""

from django.conf import settings
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser


class _NameRecordingParser(DjangoMultiPartParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.names_with_paths: dict[str | None, str] = {}

    def sanitize_file_name(self, file_name):
        sanitized = super().sanitize_file_name(file_name)
        if "/" in file_name or "\\" in file_name or sanitized is None:
            self.names_with_paths[sanitized] = file_name
        return sanitized


class ArtifactMultiPartParser(MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            parser = _NameRecordingParser(meta, stream, request.upload_handlers, encoding)
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        for _, uploaded in files.lists():
            for file in uploaded:
                file.client_name = parser.names_with_paths.get(file.name, file.name)
        return DataAndFiles(data, files)
