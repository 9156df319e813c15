"""A version whose request ends in QA without reaching production leaves QA: it reads
"Development" with the reason, audited, instead of a QA version nobody tests."""

import pytest

from audit.models import AuditEvent
from registry.models import ModelVersion


@pytest.mark.parametrize("verdict", ["reject", "request_changes"])
def test_a_version_rejected_in_qa_leaves_qa(people, awaiting_manager, background, client, verdict):
    from approvals import services

    with background():
        services.step_decide(request=awaiting_manager, actor=people.mona, verdict="approve", comment="ok")
    version = ModelVersion.objects.get(pk=awaiting_manager.version_id)
    assert version.stage == "qa"
    awaiting_manager.refresh_from_db()
    with background():
        services.step_decide(
            request=awaiting_manager, actor=people.quinn, verdict=verdict, comment="Fails on night data"
        )
    version.refresh_from_db()
    awaiting_manager.refresh_from_db()
    assert version.stage == "development" and awaiting_manager.status in ("rejected", "changes_requested")
    assert version.stage_note.startswith(f"Request #{awaiting_manager.pk} ended in QA:")
    moved = AuditEvent.objects.get(verb="version.stage_changed", object_id=str(version.pk), to_state="development")
    assert moved.from_state == "qa" and moved.actor == people.quinn
    client.force_login(people.dana)
    page = client.get(f"/models/credit-risk/versions/{version.number}/").content.decode()
    assert 'data-testid="stage">Development<' in page and "ended in QA" in page


def test_a_withdrawal_in_qa_also_leaves_qa(people, awaiting_manager, background):
    from approvals import services

    with background():
        services.step_decide(request=awaiting_manager, actor=people.mona, verdict="approve", comment="ok")
        services.promotion_request_withdraw(request=awaiting_manager, actor=people.dana, reason="Wrong data.")
    assert ModelVersion.objects.get(pk=awaiting_manager.version_id).stage == "development"
