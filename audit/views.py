"""The audit log page and its CSV export."""

import csv
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render

from audit.selectors import audit_events
from config.pages import valid_query

AUDIT_PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    model = forms.CharField(required=False, max_length=100)
    actor = forms.CharField(required=False, max_length=150)
    verb = forms.CharField(required=False, max_length=50)
    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


AUDIT_COLUMNS = [
    "id",
    "created_at",
    "actor",
    "verb",
    "object_type",
    "object_id",
    "object",
    "model",
    "request",
    "from_state",
    "to_state",
    "comment",
]


# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """The cell as text that no spreadsheet evaluates (OWASP: CSV injection)."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


@login_required
def audit_log(request):
    """The audit log, newest first, filterable; pages by id so the millionth event is as quick as the first."""
    cleaned = valid_query(request, AuditFilterForm)
    filters = {key: cleaned[key] or None for key in ("model", "actor", "verb")}
    events = audit_events(
        user=request.user, model_name=filters["model"], actor=filters["actor"], verb=filters["verb"]
    ).order_by("-pk")
    if cleaned["before"]:
        events = events.filter(pk__lt=cleaned["before"])
    rows = list(events[: AUDIT_PAGE_SIZE + 1])
    query = urlencode({key: value for key, value in filters.items() if value})
    return render(
        request,
        "audit.html",
        {
            "events": rows[:AUDIT_PAGE_SIZE],
            "older": rows[AUDIT_PAGE_SIZE - 1].pk if len(rows) > AUDIT_PAGE_SIZE else None,
            "filters": filters,
            "query": query,
        },
    )


class _Echo:
    """A file-like object whose write returns the line, for streaming CSV."""

    def write(self, value):
        return value


@login_required
def audit_export(request):
    """Every audit event the filters select, as CSV, streamed so the export's size does not matter."""
    filters = valid_query(request, AuditFilterForm)
    events = audit_events(
        user=request.user,
        model_name=filters["model"] or None,
        actor=filters["actor"] or None,
        verb=filters["verb"] or None,
    )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(AUDIT_COLUMNS)
        for e in events.iterator(chunk_size=2000):
            yield writer.writerow(
                spreadsheet_safe(cell)
                for cell in [
                    e.pk,
                    e.created_at.isoformat(),
                    e.actor.username if e.actor else "system",
                    e.verb,
                    e.object_type,
                    e.object_id,
                    e.object_repr,
                    e.model.name if e.model else "",
                    e.request_id or "",
                    e.from_state,
                    e.to_state,
                    e.comment,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="signoff-audit.csv"'
    return response
