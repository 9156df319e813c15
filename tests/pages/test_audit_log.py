"""The audit log page: scoped to visible models, filterable, paged by id, exportable as CSV."""

import csv
import io

from approvals.audit import audit_record
from approvals.models import AuditEvent


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
    assert rows[-1]["verb"] == "request.submitted" and rows[-1]["actor"] == "dana"
    client.force_login(people.gary)
    leaked = b"".join(client.get("/audit/export.csv").streaming_content).decode()
    assert "credit-risk" not in leaked and "secret.event" in leaked


def test_anonymous_visitors_cannot_read_or_export_the_audit_log(client, db):
    assert client.get("/audit/").status_code == 302
    assert client.get("/audit/export.csv").status_code == 302
