"""When background work cannot run: retries, then a clear outcome instead of a hanging request."""

import os

import pytest

from approvals import services
from approvals.models import CheckRun, PromotionRequest
from notifications.models import Notification
from tests import factories
from tests.services import free_port


def test_an_unreadable_artifact_is_retried_then_reported_and_the_request_returned(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana)
    # A directory where the file should be: reading it fails with an OSError worth retrying.
    os.remove(version.artifact.path)
    os.mkdir(version.artifact.path)

    with background():
        request = services.promotion_request_submit(version=version, actor=people.dana)

    run = CheckRun.objects.get(step__request=request, check_type="artifact_integrity")
    assert run.status == CheckRun.Status.ERROR
    assert run.attempts == 4  # the first try and three retries
    assert "could not read the artifact" in run.summary
    request.refresh_from_db()
    assert request.status == PromotionRequest.Status.CHECKS_FAILED


def test_mail_that_cannot_be_delivered_is_retried_then_marked_failed(people, risk_model, background, settings):
    closed_port = free_port()  # nothing listens there
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port, 2

    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )

    notification = Notification.objects.get(request=request, event="review_requested")
    assert notification.status == Notification.Status.FAILED
    assert "refused" in notification.error.lower()
    request.refresh_from_db()
    assert request.status == PromotionRequest.Status.AWAITING_REVIEW  # mail trouble never blocks the workflow


@pytest.mark.parametrize("verdict", ["approve", "reject"])
def test_reviewers_and_the_author_get_their_emails_without_the_actor(
    people, risk_model, background, mailoutbox, verdict
):
    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
    asked = sorted(to for message in mailoutbox for to in message.to)
    assert asked == ["mike@example.com", "mona@example.com"]
    assert all(f"/requests/{request.pk}/" in message.body for message in mailoutbox)
    mailoutbox.clear()

    request.refresh_from_db()
    with background():
        services.step_decide(request=request, actor=people.mona, verdict=verdict, comment="Because.")

    to_author = [m for m in mailoutbox if m.to == ["dana@example.com"]]
    assert len(to_author) == 1
    assert "Because." in to_author[0].body
    assert not [m for m in mailoutbox if "mona@example.com" in m.to]
