"""Refusals that hold for every page and endpoint, before any view runs."""

from django.http import HttpResponseNotAllowed
from django.http.multipartparser import MultiPartParserError

from config.errors import error_response
from registry.uploads import parse_multipart_keeping_names
from registry.validation import text_problem

MAX_QUERY_VALUE = 1000


class RefuseUnsafeInputMiddleware:
    """400 for a path, query or header that PostgreSQL could not even compare (NUL, lone
    surrogates) or a query value that is absurdly long; the 405 of ``require_POST`` views
    rendered in the layout.

    Multipart bodies are parsed here, keeping file names as sent (``registry.uploads``), so
    that "../x.bin" is refused rather than quietly renamed. JSON bodies are validated where
    they are parsed (``registry.validation``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("POST", "PUT", "PATCH") and request.content_type == "multipart/form-data":
            try:
                parse_multipart_keeping_names(request)
            except MultiPartParserError as error:
                return error_response(request, 400, f"The upload could not be read: {error}")
        problem = self.problem(request)
        if problem:
            return error_response(request, 400, problem)
        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed) and not response.content:
            allowed = response["Allow"]
            response = error_response(request, 405, f"This address accepts {allowed} only.")
            response["Allow"] = allowed
        return response

    @staticmethod
    def problem(request) -> str | None:
        if text_problem(request.path) or any(ord(char) < 32 for char in request.path):
            return "The address contains a character that is not allowed."
        for name, value in request.META.items():
            if name.startswith("HTTP_") and isinstance(value, str) and (problem := text_problem(value)):
                return f"The {name[5:].replace('_', '-').title()} header {problem}."
        for key, values in request.GET.lists():
            for text in (key, *values):
                if text_problem(text):
                    return f"The query parameter {key[:50]!r} {text_problem(text)}."
                if len(text) > MAX_QUERY_VALUE:
                    return f"The query parameter {key[:50]!r} is longer than {MAX_QUERY_VALUE} characters."
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, values in request.POST.lists():
                for text in (key, *values):
                    if text_problem(text):
                        return f"The form field {key[:50]!r} {text_problem(text)}."
        return None
