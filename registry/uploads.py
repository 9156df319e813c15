"""Multipart parsing that remembers file names as the client sent them.

Django quietly rewrites uploaded file names ("../../x.pkl" becomes "x.pkl", a NUL is
dropped). Signoff refuses such uploads instead, so that a client learns its request was
wrong; the name as sent is kept in ``client_name`` for ``registry.validation`` to judge.
Multipart bodies of pages and of the API are parsed here (``config.middleware``).
"""

from django.http.multipartparser import MultiPartParser


class NameRecordingMultiPartParser(MultiPartParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.names_as_sent: dict[str | None, str] = {}

    def sanitize_file_name(self, file_name):
        sanitized = super().sanitize_file_name(file_name)
        if sanitized != file_name:
            self.names_as_sent[sanitized] = file_name
        return sanitized

    def parse(self):
        data, files = super().parse()
        for _, uploaded in files.lists():
            for file in uploaded:
                file.client_name = self.names_as_sent.get(file.name, file.name)
        return data, files


def parse_multipart_keeping_names(request) -> None:
    """Parse a multipart body now, as Django would, but with file names as sent.

    Called by ``config.middleware`` before anything reads ``request.POST``; pages and DRF
    (which falls back to ``request.POST`` / ``request.FILES``) then see the recorded names.
    """
    parser = NameRecordingMultiPartParser(request.META, request, request.upload_handlers, request.encoding)
    request._post, request._files = parser.parse()
