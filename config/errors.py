"""Error answers in the product's layout for pages, and as JSON for the API.

Every refusal says what was wrong; no error page ever shows settings, SQL or a traceback.
"""

from django.http import JsonResponse
from django.shortcuts import render

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    429: "Too many attempts",
    500: "Something went wrong",
}


class Conflict(Exception):
    """Not possible in the object's current state: HTTP 409 (apps subclass it; config imports no app)."""


class Busy(Exception):
    """Too much of the caller's work is already waiting: HTTP 429."""


def wants_json(request) -> bool:
    return request.path.startswith("/api/")


def error_response(request, status: int, detail: str = ""):
    """The answer for ``status``: JSON under /api/, otherwise the error page."""
    if wants_json(request):
        return JsonResponse({"detail": detail or TITLES[status]}, status=status)
    # The 500 page renders without the request context: whatever broke must not break it too.
    context = {"title": TITLES[status], "detail": detail, "status": status}
    return render(request if status != 500 else None, "error.html", context, status=status)


def _reason(exception) -> str:
    # Messages of Http404 / PermissionDenied raised by our own code are written for people.
    # Django's own 404 for an unknown URL carries a dict of resolver details: not shown.
    if exception is None or not exception.args or not isinstance(exception.args[0], str):
        return ""
    return exception.args[0]


def bad_request(request, exception=None):
    return error_response(request, 400, _reason(exception) or "The request could not be understood.")


def permission_denied(request, exception=None):
    return error_response(request, 403, _reason(exception))


def page_not_found(request, exception=None):
    return error_response(request, 404, _reason(exception) or "There is nothing at this address.")


def server_error(request):
    return error_response(request, 500, "The error was logged. Try again in a moment.")
