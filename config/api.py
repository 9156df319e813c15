"""API-wide behaviour: how service errors become HTTP answers."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import Busy, Conflict

# The refusals a write endpoint documents (see ``exception_handler``).
REFUSALS = {400: None, 403: None, 404: None, 409: None}


def exception_handler(exc, context):
    """Wrong state is 409, not allowed is 403, invalid input is 400 with field errors, too much
    work waiting for one person is 429."""
    if isinstance(exc, Conflict):
        return Response({"detail": str(exc), "code": "invalid_transition"}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Busy):
        return Response({"detail": str(exc), "code": "busy"}, status=status.HTTP_429_TOO_MANY_REQUESTS)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = ValidationError(detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)
