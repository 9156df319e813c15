"""Helpers shared by the pages."""

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator

PAGE_SIZE = 25


def paginate(request, queryset, size=PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def form_errors_from(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form, field by field where the field exists."""
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)
