"""The audit log page and its CSV export."""

import csv
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render

from audit.selectors import audit_events
from audit.verbs import VERBS
from config.pages import valid_query

AUDIT_PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    """The log's search: parts of a model's or a person's name, a kind of event, a range of days."""

    model = forms.CharField(required=False, max_length=100)
    actor = forms.CharField(required=False, max_length=150)
    verb = forms.CharField(required=False, max_length=50)
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)
    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        for name, day in (("since", since), ("until", until)):
            if day and not 1970 <= day.year <= 9000:
                raise forms.ValidationError(f"'{name}' must be a day between 1970 and 9000.")
        if since and until and since > until:
            raise forms.ValidationError("'since' is after 'until'.")
        return cleaned


FILTERS = ("model", "actor", "verb", "since", "until")


def _events(request, cleaned):
    return audit_events(
        user=request.user,
        model_name=cleaned["model"] or None,
        actor=cleaned["actor"] or None,
        verb=cleaned["verb"] or None,
        contains=True,
        since=cleaned["since"],
        until=cleaned["until"],
    )


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
    filters = {key: cleaned[key] or None for key in FILTERS}
    events = _events(request, cleaned).order_by("-pk")
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
            "verbs": VERBS if not filters["verb"] or filters["verb"] in VERBS else (filters["verb"], *VERBS),
        },
    )


class _Echo:
    """A file-like object whose write returns the line, for streaming CSV."""

    def write(self, value):
        return value


@login_required
def audit_export(request):
    """Every audit event the filters select, as CSV, streamed so the export's size does not matter."""
    events = _events(request, valid_query(request, AuditFilterForm))
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
