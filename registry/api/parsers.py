"""API parsers: multipart that keeps file names as sent, and JSON that refuses what cannot be stored."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, JSONParser, MultiPartParser

from registry.uploads import NameRecordingMultiPartParser
from registry.validation import parse_json


class ArtifactMultiPartParser(MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            data, files = NameRecordingMultiPartParser(meta, stream, request.upload_handlers, encoding).parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        return DataAndFiles(data, files)


class SafeJSONParser(JSONParser):
    """JSON bodies bounded in depth and size, without NUL, lone surrogates or non-finite numbers."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return parse_json(stream.read(), what="The request body")
        except ValidationError as error:
            raise ParseError(error.messages[0]) from None
