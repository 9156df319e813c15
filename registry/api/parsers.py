"""The API's JSON parser, which refuses what cannot be stored.

Multipart bodies are parsed once, by ``registry.middleware`` (keeping file names as sent); DRF's
``MultiPartParser`` then hands the view that parsed ``request.POST`` / ``request.FILES``.
"""

from django.core.exceptions import ValidationError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from registry.validation import parse_json


class SafeJSONParser(JSONParser):
    """JSON bodies bounded in depth and size, without NUL, lone surrogates or non-finite numbers."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return parse_json(stream.read(), what="The request body")
        except ValidationError as error:
            raise ParseError(error.messages[0]) from None
