"""Rolling back restores the previous production version, by an IT engineer, with a reason."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from approvals import services
from approvals.models import AuditEvent
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
    assert (first.stage, second.stage) == ("production", "archived")
    events = list(
        AuditEvent.objects.filter(verb="version.rolled_back", model=risk_model).values_list(
            "object_id", "from_state", "to_state", "actor__username", "comment"
        )
    )
    assert sorted(events) == sorted(
        [
            (str(second.pk), "production", "archived", "ivan", "Latency doubled after v2."),
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
