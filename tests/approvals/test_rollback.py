"""Rolling back restores the previous production version, by an IT engineer, with a reason."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from approvals import services
from approvals.models import PromotionRequest
from audit.models import AuditEvent
from registry.models import ModelVersion
from tests import factories


def deploy(background, people, model):
    version = factories.make_version(model=model, by=people.dana)
    with background():
        request = services.promotion_request_submit(version=version, actor=people.dana)
    for reviewer in (people.mona, people.quinn, people.ivan):
        request.refresh_from_db()
        with background():
            services.step_decide(request=request, actor=reviewer, verdict="approve")
    version.refresh_from_db()
    assert version.stage == "production"
    return version


def test_rollback_restores_the_previous_production_version(people, risk_model, background):
    first = deploy(background, people, risk_model)
    second = deploy(background, people, risk_model)

    restored = services.model_rollback(model=risk_model, actor=people.ivan, comment="Latency doubled after v2.")

    first.refresh_from_db()
    second.refresh_from_db()
    assert restored == first
    assert (first.stage, second.stage) == ("production", "rolled_back")
    assert second.stage_note == "Latency doubled after v2."
    events = list(
        AuditEvent.objects.filter(verb="version.rolled_back", model=risk_model).values_list(
            "object_id", "from_state", "to_state", "actor__username", "comment"
        )
    )
    assert sorted(events) == sorted(
        [
            (str(second.pk), "production", "rolled_back", "ivan", "Latency doubled after v2."),
            (str(first.pk), "archived", "production", "ivan", "Latency doubled after v2."),
        ]
    )


def test_only_it_engineers_of_the_team_roll_back(people, risk_model, background):
    deploy(background, people, risk_model)
    deploy(background, people, risk_model)

    for person in (people.dana, people.mona, people.quinn, people.gus):
        with pytest.raises(PermissionDenied):
            services.model_rollback(model=risk_model, actor=person, comment="Because.")
    assert ModelVersion.objects.get(model=risk_model, stage="production").number == 2


def test_rollback_needs_a_reason_and_an_earlier_production_version(people, risk_model, background):
    deploy(background, people, risk_model)

    with pytest.raises(ValidationError):
        services.model_rollback(model=risk_model, actor=people.ivan, comment=" ")
    with pytest.raises(services.InvalidTransition, match="no earlier production version"):
        services.model_rollback(model=risk_model, actor=people.ivan, comment="Try it.")


def test_a_second_rollback_cannot_put_back_the_version_the_first_removed(people, risk_model, background):
    deploy(background, people, risk_model)
    second = deploy(background, people, risk_model)
    services.model_rollback(model=risk_model, actor=people.ivan, comment="Latency doubled after v2.")

    with pytest.raises(services.InvalidTransition, match="no earlier production version"):
        services.model_rollback(model=risk_model, actor=people.ivan, comment="Undo that.")
    second.refresh_from_db()
    assert second.stage == "rolled_back"
    assert ModelVersion.objects.get(model=risk_model, stage="production").number == 1


def test_the_rolled_back_request_reads_rolled_back_and_the_version_needs_a_new_request(people, risk_model, background):
    deploy(background, people, risk_model)
    second = deploy(background, people, risk_model)
    with background():
        services.model_rollback(model=risk_model, actor=people.ivan, comment="Latency doubled after v2.")

    request = second.promotion_requests.get()
    assert request.status == PromotionRequest.Status.ROLLED_BACK
    assert request.get_status_display() == "Rolled back"
    resubmitted = services.promotion_request_submit(version=second, actor=people.dana)
    assert resubmitted.pk != request.pk and resubmitted.is_open


def test_the_engineer_picks_an_earlier_production_version(people, risk_model, background):
    first = deploy(background, people, risk_model)
    deploy(background, people, risk_model)
    deploy(background, people, risk_model)

    with pytest.raises(ValidationError, match="not an earlier production version"):
        services.model_rollback(model=risk_model, actor=people.ivan, comment="Back.", target=3)
    restored = services.model_rollback(model=risk_model, actor=people.ivan, comment="Back to v1.", target=1)

    assert restored == first
    assert ModelVersion.objects.get(model=risk_model, stage="production").number == 1


def test_a_rollback_of_a_version_no_longer_in_production_says_who_did_it(people, risk_model, background):
    deploy(background, people, risk_model)
    deploy(background, people, risk_model)
    services.model_rollback(model=risk_model, actor=people.ivan, comment="Latency.", production_seen=2)

    with pytest.raises(services.InvalidTransition, match="already rolled back by ivan"):
        services.model_rollback(model=risk_model, actor=people.ivan, comment="Latency.", production_seen=2)


def test_the_rollback_reason_is_bounded_and_storable(people, risk_model, background):
    deploy(background, people, risk_model)
    deploy(background, people, risk_model)

    for reason in ("x" * 2001, "null \x00 byte", "lone \ud800 surrogate"):
        with pytest.raises(ValidationError):
            services.model_rollback(model=risk_model, actor=people.ivan, comment=reason)
    assert ModelVersion.objects.get(model=risk_model, stage="production").number == 2


def test_the_team_is_emailed_about_a_rollback(people, risk_model, background, mailoutbox):
    deploy(background, people, risk_model)
    deploy(background, people, risk_model)
    mailoutbox.clear()
    with background():
        services.model_rollback(model=risk_model, actor=people.ivan, comment="Latency doubled after v2.")

    rollback_mail = [m for m in mailoutbox if "rolled back" in m.subject]
    recipients = {address for message in rollback_mail for address in message.to}
    assert {"dana@example.com", "mona@example.com", "quinn@example.com"} <= recipients
    assert "ivan@example.com" not in recipients  # the actor
    assert not recipients & {"gina@example.com", "gus@example.com"}  # another team
    assert "Latency doubled after v2." in rollback_mail[0].body
    assert "v1 is in production" in rollback_mail[0].subject
