"""E-mail about requests: one message per address, recipients fixed at the first attempt, each
delivered at most once, a refused recipient retried alone."""

import threading

from aiosmtpd.controller import Controller
from django.core import mail

from approvals import services
from jobs import runner as jobs
from notifications.models import Notification, NotificationDelivery
from notifications.services import notification_send
from tests import factories
from tests.services import free_port


class RefusesOne:
    """An SMTP server that refuses one address and accepts the others."""

    def __init__(self, refused):
        self.refused, self.accepted, self.refusals = refused, [], 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refused:
            with self.lock:
                self.refusals += 1
            return "550 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.accepted.extend(envelope.rcpt_tos)
        return "250 Accepted"


def test_a_refused_recipient_is_retried_alone(people, risk_model, background, settings):
    handler = RefusesOne("mike@example.com")
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    try:
        with background():
            request = services.promotion_request_submit(
                version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
            )
    finally:
        controller.stop()

    notification = Notification.objects.get(request=request, event="review_requested")
    deliveries = dict(notification.deliveries.values_list("email", "status"))
    assert deliveries == {"mona@example.com": "sent", "mike@example.com": "failed"}
    assert handler.accepted == ["mona@example.com"]  # sent once, never again on the retries
    assert handler.refusals == jobs.MAX_ATTEMPTS
    assert notification.deliveries.get(email="mike@example.com").status == NotificationDelivery.Status.FAILED


def test_one_address_gets_one_message_and_a_second_attempt_sends_nothing_again(
    people, risk_model, background, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    people.mike.email = people.mona.email  # two managers sharing a team mailbox
    people.mike.save(update_fields=["email"])
    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
    notification = Notification.objects.get(request=request, event="review_requested")
    assert list(notification.deliveries.values_list("email", "status")) == [("mona@example.com", "sent")]
    assert [message.to for message in mail.outbox] == [["mona@example.com"]]
    assert notification.recipients == ["mona@example.com"]

    people.mike.email = "mike@example.com"  # a change after the first attempt adds nobody
    people.mike.save(update_fields=["email"])
    notification_send(notification.pk)
    assert len(mail.outbox) == 1
    assert notification.deliveries.count() == 1


def test_an_attempt_that_read_the_notification_before_another_fixed_its_recipients_sends_nothing_again(
    people, risk_model, background, settings, monkeypatch
):
    """Two attempts at once (a lease taken over from a worker that was only slow): the one that
    finds the recipients fixed by the other writes none of its own and sends only what is pending."""
    from notifications import services as notification_services

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with background():  # the first attempt fixes the recipients and sends
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
    notification = Notification.objects.get(request=request, event="review_requested")
    assert sorted(message.to[0] for message in mail.outbox) == ["mike@example.com", "mona@example.com"]
    stale = notification_services.notification_load(notification.pk)
    stale.status = Notification.Status.PENDING  # as the other attempt read it, before the first wrote
    people.mike.email = "mike.new@example.com"  # so a second fixing would show
    people.mike.save(update_fields=["email"])

    monkeypatch.setattr(notification_services, "notification_load", lambda pk: stale)
    notification_send(notification.pk)
    assert len(mail.outbox) == 2
    assert sorted(notification.deliveries.values_list("email", "status")) == [
        ("mike@example.com", "sent"), ("mona@example.com", "sent"),
    ]  # fmt: skip
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT


def test_an_email_reads_its_notification_in_one_query_and_what_it_carries_only_when_there(
    people, risk_model, background, django_assert_num_queries
):
    """Every e-mail needs the request, version, model, step, decision and actor: one query. A
    comment (with its thread) is fetched only for the notifications that carry one."""
    from approvals import conversation
    from notifications.services import notification_load

    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
        conversation.comment_post(request=request, actor=people.mona, body="Which hold-out month is this?")
    review = Notification.objects.get(request=request, event="review_requested")
    with django_assert_num_queries(1):
        loaded = notification_load(review.pk)
        assert (loaded.request.version.created_by, loaded.request.model, loaded.step.name) == (
            people.dana, risk_model, "manager_review",
        )  # fmt: skip
        assert loaded.step.request.model.team_id == risk_model.team_id  # who may decide reads the step's team
        assert loaded.comment is None and loaded.waiver is None and loaded.emergency is None
    commented = Notification.objects.get(request=request, event="commented")
    with django_assert_num_queries(3):
        loaded = notification_load(commented.pk)
        assert loaded.comment.body == "Which hold-out month is this?" and loaded.comment.thread.pk
