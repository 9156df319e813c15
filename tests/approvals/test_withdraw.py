"""The author takes back an open request: a reason is required, the steps it waited on are
cancelled, the reviewers are told, everything is audited; anyone else, or a closed request,
is refused and nothing changes."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from approvals import services
from approvals.models import PromotionRequest, StepState
from audit.models import AuditEvent
from tests import factories

Status = PromotionRequest.Status


def withdraw(background, request, actor, reason="Found a leak in the training data."):
    with background():
        return services.promotion_request_withdraw(request=request, actor=actor, reason=reason)


def test_the_author_withdraws_and_the_managers_are_told_why(people, awaiting_manager, background, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()

    request = withdraw(background, awaiting_manager, people.dana)

    assert request.status == Status.WITHDRAWN and request.closed_at is not None
    review = request.steps.get(name="manager_review")
    assert review.status == StepState.Status.CANCELLED
    verbs = list(AuditEvent.objects.filter(request=request).order_by("pk").values_list("verb", "actor__username"))
    assert verbs[-2:] == [("step.cancelled", "dana"), ("request.withdrawn", "dana")]
    assert AuditEvent.objects.get(request=request, verb="request.withdrawn").comment == (
        "Found a leak in the training data."
    )
    told = sorted(address for message in mail.outbox if "withdrawn" in message.subject for address in message.to)
    assert told == ["mike@example.com", "mona@example.com"]
    message = next(m for m in mail.outbox if m.to == ["mona@example.com"] and "withdrawn" in m.subject)
    assert "Found a leak in the training data." in message.body and "Manager review" in message.body
    assert not any("dana@example.com" in m.to for m in mail.outbox if "withdrawn" in m.subject)


@pytest.mark.parametrize(
    ("reason", "problem"),
    [("", "Say why"), ("   ", "Say why"), ("x" * 5001, "under 5,000"), ("stop\x00", "The text")],
)
def test_a_withdrawal_without_a_usable_reason_changes_nothing(people, awaiting_manager, background, reason, problem):
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError, match=problem):
        withdraw(background, awaiting_manager, people.dana, reason=reason)
    awaiting_manager.refresh_from_db()
    assert awaiting_manager.status == Status.AWAITING_REVIEW and AuditEvent.objects.count() == events


@pytest.mark.parametrize("who", ["mona", "quinn", "gina"])
def test_only_the_submitter_may_withdraw(people, awaiting_manager, background, who):
    with pytest.raises(PermissionDenied, match="Only the person who submitted"):
        withdraw(background, awaiting_manager, getattr(people, who))
    awaiting_manager.refresh_from_db()
    assert awaiting_manager.status == Status.AWAITING_REVIEW


def test_a_closed_request_cannot_be_withdrawn(people, awaiting_manager, background):
    withdraw(background, awaiting_manager, people.dana)
    with pytest.raises(services.InvalidTransition, match="only an open request can be withdrawn"):
        withdraw(background, awaiting_manager, people.dana, reason="Again.")
    assert AuditEvent.objects.filter(request=awaiting_manager, verb="request.withdrawn").count() == 1


def test_checks_still_running_finish_into_nothing(people, risk_model, background):
    # Submitted without running the background work: the checks step is running.
    request = services.promotion_request_submit(
        version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
    )
    assert request.steps.get(name="automated_checks").status == StepState.Status.RUNNING
    withdraw(background, request, people.dana)
    with background():  # the check jobs run now, after the withdrawal
        for run in request.steps.get(name="automated_checks").check_runs.all():
            services.check_run_execute(check_run_id=run.pk)
    request.refresh_from_db()
    assert request.status == Status.WITHDRAWN
    assert request.steps.get(name="automated_checks").status == StepState.Status.CANCELLED
    assert request.steps.get(name="manager_review").status == StepState.Status.PENDING


def test_withdrawing_over_the_api(people, awaiting_manager, api):
    url = f"/api/requests/{awaiting_manager.pk}/withdraw/"
    assert api(people.mona).post(url, {"reason": "Not mine."}, format="json").status_code == 403
    missing = api(people.dana).post(url, {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    unknown = api(people.dana).post(url, {"reason": "Oops.", "force": True}, format="json")
    assert unknown.status_code == 400
    done = api(people.dana).post(url, {"reason": "Oops, wrong dataset."}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "withdrawn"
    assert api(people.dana).post(url, {"reason": "Again."}, format="json").status_code == 409
    assert api(people.gina).post(url, {"reason": "Not visible."}, format="json").status_code == 404


def test_the_request_page_offers_withdrawal_to_its_submitter_only(people, awaiting_manager, client):
    page = f"/requests/{awaiting_manager.pk}/"
    client.force_login(people.mona)
    assert 'data-testid="withdraw"' not in client.get(page).content.decode()
    assert client.post(f"{page}withdraw/", {"reason": "Not mine."}).status_code == 403

    client.force_login(people.dana)
    assert 'data-testid="withdraw"' in client.get(page).content.decode()
    refused = client.post(f"{page}withdraw/", {"reason": ""})
    assert refused.status_code == 400 and "This field is required." in refused.content.decode()
    response = client.post(f"{page}withdraw/", {"reason": "Found a leak."}, follow=True)
    content = response.content.decode()
    assert "is withdrawn; the reviewers are told" in content
    assert "withdrew the request" in content and 'data-testid="withdraw"' not in content
