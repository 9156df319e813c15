"""Helpers shared by the pages of every app: pagination, a service's errors on a form, strict query filters."""

from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Paginator

PAGE_SIZE = 25


def paginate(request, queryset, size=PAGE_SIZE, paginator_class=Paginator):
    return paginator_class(queryset, size).get_page(request.GET.get("page"))


def form_errors_from(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form, field by field where the field exists."""
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


def valid_query(request, form_class) -> dict:
    """The query string's parameters cleaned by ``form_class``, or a 400 naming the bad one:
    never a silently ignored filter, an emptied list or a truncated export."""
    form = form_class(request.GET)
    if not form.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
        raise BadRequest(f"Invalid filter ({problems}).")
    return form.cleaned_data
