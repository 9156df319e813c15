"""What other apps add to the registry's model and version pages.

The pages are the registry's (``registry.views``), but much of what they show belongs to apps
that build on the registry: the requests and decisions of the workflow, the datasets and
measurements of the evidence. The registry imports none of them; each registers its *parts* in
its ``AppConfig.ready()``:

- ``model_part(function)``: ``function(request, model) -> dict``, merged into the model page's
  context (forms it returns are the unbound defaults; a view re-rendering the page after a
  refused POST passes its bound form by the same name, which wins);
- ``version_part(function)``: the same for the version page, ``function(request, version)``;
- ``version_rows(function)``: ``function(queryset) -> queryset``, which may annotate the model
  page's versions (e.g. with each version's latest request), so the page stays one query per
  list however many parts there are.
"""

from collections.abc import Callable

from django.db.models import QuerySet
from django.http import HttpRequest

_MODEL_PARTS: list[Callable[[HttpRequest, object], dict]] = []
_VERSION_PARTS: list[Callable[[HttpRequest, object], dict]] = []
_VERSION_ROWS: list[Callable[[QuerySet], QuerySet]] = []


def _add(parts: list, function):
    if function not in parts:  # ready() may run twice in tests that reload apps
        parts.append(function)
    return function


def model_part(function):
    return _add(_MODEL_PARTS, function)


def version_part(function):
    return _add(_VERSION_PARTS, function)


def version_rows(function):
    return _add(_VERSION_ROWS, function)


def model_context(request, model) -> dict:
    context = {}
    for part in _MODEL_PARTS:
        context.update(part(request, model))
    return context


def version_context(request, version) -> dict:
    context = {}
    for part in _VERSION_PARTS:
        context.update(part(request, version))
    return context


def with_rows(versions: QuerySet) -> QuerySet:
    for annotate in _VERSION_ROWS:
        versions = annotate(versions)
    return versions
