"""Multipart parsing that remembers file names as the client sent them.

Django quietly rewrites uploaded file names ("../../x.pkl" becomes "x.pkl", a NUL is
dropped). Signoff refuses such uploads instead, so that a client learns its request was
wrong; the name as sent is kept in ``client_name`` for ``registry.validation`` to judge.
Multipart bodies of pages and of the API are parsed here (``registry.middleware``).

Each uploaded file's SHA-256 is computed as its chunks arrive (``HashingUploadHandler``), so
the artifact is read once, by the storage, and not again to be hashed.
"""

import hashlib

from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser


class HashingUploadHandler(FileUploadHandler):
    """First in the handler chain: hashes every chunk and passes it on unchanged to the handler
    that stores it; the digests are kept per form field, in the order the files came."""

    def __init__(self, request=None):
        super().__init__(request)
        self.digests: dict[str, list[str]] = {}

    def new_file(self, field_name, *args, **kwargs):
        super().new_file(field_name, *args, **kwargs)
        self.digest = hashlib.sha256()

    def receive_data_chunk(self, raw_data, start):
        self.digest.update(raw_data)
        return raw_data

    def file_complete(self, file_size):
        self.digests.setdefault(self.field_name, []).append(self.digest.hexdigest())
        return None  # the next handler builds the file


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
        hasher = next((h for h in self._upload_handlers if isinstance(h, HashingUploadHandler)), None)
        for field, uploaded in files.lists():
            digests = hasher.digests.get(field, []) if hasher else []
            for index, file in enumerate(uploaded):
                file.client_name = self.names_as_sent.get(file.name, file.name)
                if index < len(digests):
                    file.sha256 = digests[index]
        return data, files


def parse_multipart_keeping_names(request) -> None:
    """Parse a multipart body now, as Django would, but with file names as sent.

    Called by ``registry.middleware`` before anything reads ``request.POST``; pages and DRF
    (which falls back to ``request.POST`` / ``request.FILES``) then see the recorded names.
    """
    handlers = [HashingUploadHandler(request), *request.upload_handlers]
    parser = NameRecordingMultiPartParser(request.META, request, handlers, request.encoding)
    request._post, request._files = parser.parse()
