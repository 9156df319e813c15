"""Pagination whose cost does not grow with the table: counts stop at a cap.

An exact ``COUNT(*)`` walks every matching row, so a queue of 20,000 open requests costs as
much to count as to list. Beyond the cap the page says "more than 100" (GitLab and GitHub
search do the same) and one pages on with "Older →" or narrows the list with the filters.
Used by the request queue on the pages and in the API.
"""

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination

COUNT_CAP = 100


class CappedPage(Page):
    def __init__(self, object_list, number, paginator, has_next):
        super().__init__(object_list, number, paginator)
        self._has_next = has_next

    def has_next(self) -> bool:
        return self._has_next


class CappedPaginator(Paginator):
    """A Paginator counting at most ``COUNT_CAP + 1`` rows; ``capped`` says whether more exist.

    One query reads the first ``cap + 1`` rows in the list's order (PostgreSQL walks the ordering
    index and stops there): their number is the count. For a ``values()`` list (plain dicts, which
    must include ``pk``) those rows are the pages' rows themselves: one
    query serves the count and the first pages. For a list of model instances that query reads only
    ids, and the page's rows are then read by primary key with the list's ``select_related``, so
    the filters are planned only once. Pages past the cap stay reachable ("Older →"): they are
    read at their offset, a cost that grows with how far one pages, not with the size of the
    table.
    """

    cap = COUNT_CAP

    @cached_property
    def _values(self) -> bool:
        """Rows are plain dicts: a ``values()`` queryset."""
        return not isinstance(self.object_list, QuerySet) or bool(self.object_list._fields)

    def _window(self, bottom: int, top: int) -> list:
        rows = self.object_list if self._values else self.object_list.values_list("pk", flat=True)
        return list(rows[bottom:top])

    @cached_property
    def _head(self) -> list:
        return self._window(0, self.cap + 1)

    @cached_property
    def count(self) -> int:
        return len(self._head)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    def validate_number(self, number) -> int:
        """Any page from 1 on; whether it holds rows is known once it is read."""
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not an integer") from None
        if number < 1:
            raise EmptyPage("That page number is less than 1")
        return number

    def page(self, number) -> CappedPage:
        number = self.validate_number(number)
        bottom, top = (number - 1) * self.per_page, number * self.per_page
        if top < len(self._head) or not self.capped:
            found, has_next = self._head[bottom:top], top < len(self._head)
        else:
            window = self._window(bottom, top + 1)
            found, has_next = window[: self.per_page], len(window) > self.per_page
        if not found and number > 1:
            raise EmptyPage("That page contains no results")
        if self._values:
            return CappedPage(found, number, self, has_next)
        rows = self.object_list.model._default_manager.filter(pk__in=found)
        rows.query.select_related = self.object_list.query.select_related
        rows.query.deferred_loading = self.object_list.query.deferred_loading
        by_id = {row.pk: row for row in rows}
        return CappedPage([by_id[pk] for pk in found if pk in by_id], number, self, has_next)

    def get_page(self, number) -> CappedPage:
        """The page asked for; the first one when the number is not a page or holds no rows."""
        try:
            return self.page(number)
        except (PageNotAnInteger, EmptyPage):
            return self.page(1)


class CappedPageNumberPagination(PageNumberPagination):
    """DRF's page-number pagination with a capped ``count``; ``count_capped`` is true when more
    rows match than were counted."""

    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["count_capped"] = self.page.paginator.capped
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["count_capped"] = {
            "type": "boolean",
            "description": f"True when more than {COUNT_CAP} rows match: count then stops at {COUNT_CAP + 1}.",
        }
        schema["required"].append("count_capped")
        return schema
