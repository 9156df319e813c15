"""The audit log page: scoped to visible models, filterable, paged by id, exportable as CSV."""

import csv
import io

import pytest

from audit.models import AuditEvent
from audit.services import audit_record


def test_the_audit_log_shows_only_events_of_visible_models(client, people, awaiting_manager, growth_model):
    audit_record(actor=people.gina, verb="secret.event", obj=growth_model, model=growth_model)
    client.force_login(people.quinn)
    page = client.get("/audit/").content.decode()
    assert "credit-risk" in page
    assert "secret.event" not in page
    client.force_login(people.gary)
    assert "credit-risk" not in client.get("/audit/").content.decode()


def test_the_audit_log_filters_by_event_and_pages_by_id(client, people, risk_model):
    for number in range(60):
        audit_record(actor=people.dana, verb="test.event", obj=risk_model, model=risk_model, comment=f"note-{number}:")
    client.force_login(people.mona)
    first = client.get("/audit/?verb=test.event")
    assert "note-59:" in first.content.decode() and "note-9:" not in first.content.decode()
    older = first.context["older"]
    second = client.get(f"/audit/?verb=test.event&before={older}").content.decode()
    assert "note-9:" in second and "note-59:" not in second


def test_the_export_is_a_csv_of_the_filtered_visible_events(client, people, awaiting_manager, growth_model):
    audit_record(actor=people.gina, verb="secret.event", obj=growth_model, model=growth_model)
    client.force_login(people.mona)
    response = client.get("/audit/export.csv?model=credit-risk")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == AuditEvent.objects.filter(model__name="credit-risk").count() > 0
    assert rows[-1]["verb"] == "model.registered" and rows[-1]["actor"] == "dana"
    client.force_login(people.gary)
    leaked = b"".join(client.get("/audit/export.csv").streaming_content).decode()
    assert "credit-risk" not in leaked and "secret.event" in leaked


def test_anonymous_visitors_cannot_read_or_export_the_audit_log(client, db):
    assert client.get("/audit/").status_code == 302
    assert client.get("/audit/export.csv").status_code == 302


def test_exported_cells_never_run_as_spreadsheet_formulas(client, people, risk_model):
    for comment in ('=HYPERLINK("http://evil")', "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"):
        audit_record(actor=people.dana, verb="note", obj=risk_model, model=risk_model, comment=comment)
    client.force_login(people.mona)
    response = client.get("/audit/export.csv?verb=note")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(row["comment"] for row in rows) == sorted(
        ['\'=HYPERLINK("http://evil")', "'+1", "'-1+2", "'@SUM(A1)", "'\tx", "'\rx"]
    )


@pytest.mark.parametrize("query", ["before=%C2%B2", "before=-1", "before=1e400", "model=" + "m" * 101])
def test_a_bad_filter_is_a_400_not_a_truncated_export(client, people, risk_model, query):
    client.force_login(people.mona)
    for url in ("/audit/", "/audit/export.csv"):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400, url
        assert "Invalid filter" in response.content.decode()
