"""The audit log is tamper-evident: an edit or deletion behind the application's back is found."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from approvals import services
from approvals.audit import audit_chain_first_break
from approvals.models import AuditEvent
from tests import factories


@pytest.fixture
def history(people, risk_model, background):
    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
    request.refresh_from_db()
    with background():
        services.step_decide(request=request, actor=people.mona, verdict="reject", comment="Not calibrated.")
    return list(AuditEvent.objects.order_by("pk"))


def behind_the_applications_back(sql, params):
    """Run SQL as a database superuser would, around the append-only trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # a superuser can switch the append-only trigger off
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def test_every_event_links_to_the_one_before(history, capsys):
    assert history[0].previous_digest == ""
    assert all(later.previous_digest == earlier.digest for earlier, later in zip(history, history[1:], strict=False))
    assert audit_chain_first_break() is None
    call_command("verify_audit_log")
    assert f"intact ({len(history)} events)" in capsys.readouterr().out


def test_an_edited_comment_is_found(history):
    decision = next(event for event in history if event.verb == "decision.reject")
    behind_the_applications_back("UPDATE approvals_auditevent SET comment = %s WHERE id = %s", ["Fine.", decision.pk])

    assert audit_chain_first_break().pk == decision.pk
    with pytest.raises(CommandError, match=f"event #{decision.pk}"):
        call_command("verify_audit_log")


def test_a_deleted_event_is_found(history):
    removed, following = history[2], history[3]
    behind_the_applications_back("DELETE FROM approvals_auditevent WHERE id = %s", [removed.pk])

    assert audit_chain_first_break().pk == following.pk
