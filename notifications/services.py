"""E-mail about requests: recipients → templates → context → send, one message per recipient
(the notifier of each event, ``notifications.notifiers``, knows the first three).

Every message links to the request page with an absolute URL built from ``SIGNOFF_BASE_URL``.
"""

import smtplib
import socket

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.template.loader import render_to_string
from django.utils import timezone

from jobs.faults import fault_point
from jobs.runner import TransientError, jobs_enqueue_new
from notifications.models import SEND_NOTIFICATION, Notification, NotificationDelivery
from notifications.notifiers import notifier_for

# Errors worth retrying: the server may be back in a moment. Anything else is permanent.
TRANSIENT_ERRORS = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, ConnectionError)


def notification_record(
    *, request, event: str, step=None, decision=None, actor=None, comment=None, waiver=None, emergency=None
) -> Notification:
    """Write the e-mail to send about ``event`` and hand it to the worker after commit (called
    inside the transaction of the change, by the receiver of ``approvals.signals.request_event``)."""
    notifier_for(event)  # an event nobody can tell is refused now, not in the worker
    notification = Notification.objects.create(
        event=event,
        request=request,
        step=step,
        decision=decision,
        comment=comment,
        waiver=waiver,
        emergency=emergency,
        actor=actor if actor is not None and actor.is_authenticated else None,
    )
    jobs_enqueue_new(SEND_NOTIFICATION, [notification.pk])
    return notification


def recipients(notification: Notification) -> list:
    return notifier_for(notification.event).recipients(notification)


def build_message(notification: Notification, recipient) -> EmailMultiAlternatives:
    notifier = notifier_for(notification.event)
    return render_message(notifier.templates, notifier.context(notification, recipient), recipient)


def render_message(folder: str, context: dict, recipient) -> EmailMultiAlternatives:
    """One message to ``recipient`` from ``folder``'s subject, text and HTML templates."""
    subject = " ".join(render_to_string(f"{folder}/subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=f"[Signoff] {subject}",
        body=render_to_string(f"{folder}/body.txt", context),
        to=[recipient.email],
    )
    message.attach_alternative(render_to_string(f"{folder}/body.html", context), "text/html")
    return message


# What every e-mail reads is joined in; what only some carry (a comment, a waiver, an emergency
# release) is fetched when the notification has one. Joining every nullable relation made
# PostgreSQL plan a 16-table query for each e-mail, which cost more than running it.
EVERY_NOTIFICATION = ("request__version__created_by", "request__model", "request__submitted_by", "step", "decision",
                      "actor")  # fmt: skip
SOME_NOTIFICATIONS = {
    "comment_id": ("comment__thread",),
    "waiver_id": ("waiver__check_run", "waiver__requested_by", "waiver__decided_by"),
    "emergency_id": ("emergency__requested_by", "emergency__decided_by"),
}


def notification_load(notification_id: int) -> Notification:
    """The notification with everything its e-mail reads (one query, and one or two more for a
    comment, a waiver or an emergency release)."""
    notification = Notification.objects.select_related(*EVERY_NOTIFICATION).get(pk=notification_id)
    if notification.step is not None and notification.step.request_id == notification.request_id:
        notification.step.request = notification.request  # the same row, read already
    carried = [path for field, paths in SOME_NOTIFICATIONS.items() if getattr(notification, field) for path in paths]
    if carried:
        prefetch_related_objects([notification], *carried)
    return notification


def notification_send(notification_id: int) -> None:
    """Deliver a notification: one delivery row per recipient, each sent at most once.

    Recipients are fixed at the first attempt. A recipient the server refuses is retried alone
    (``TransientError`` while any delivery is pending); those already sent are not sent again.
    Slow network I/O happens outside any transaction.
    """

    notification = notification_load(notification_id)
    fixed_now = _fix_recipients(notification) if notification.status == Notification.Status.PENDING else None
    if fixed_now is not None:
        pending = fixed_now
    else:  # a later attempt: what an earlier one left
        pending = list(
            notification.deliveries.filter(status=NotificationDelivery.Status.PENDING).select_related("user")
        )
    problems = []
    if pending:
        with get_connection() as connection:
            for delivery in pending:
                try:
                    connection.send_messages([build_message(notification, delivery.user)])
                except smtplib.SMTPRecipientsRefused as error:
                    problems.append(f"{delivery.email}: {error.recipients}")
                    NotificationDelivery.objects.filter(pk=delivery.pk).update(error=str(error.recipients)[:1000])
                    continue
                except TRANSIENT_ERRORS as error:
                    raise TransientError(f"the mail server is unavailable: {error}") from error
                NotificationDelivery.objects.filter(pk=delivery.pk).update(
                    status=NotificationDelivery.Status.SENT, sent_at=timezone.now(), error=""
                )
                fault_point("between_emails")
    if problems:
        Notification.objects.filter(pk=notification.pk).update(error="; ".join(problems)[:2000])
        raise TransientError("refused: " + "; ".join(problems))
    if fixed_now is not None:
        sent_to = [delivery.email for delivery in fixed_now]
    else:
        sent_to = list(notification.deliveries.values_list("email", flat=True))
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENT, recipients=sent_to, sent_at=timezone.now(), error=""
    )


def _fix_recipients(notification: Notification) -> list[NotificationDelivery] | None:
    """Write one delivery per address and mark the notification "sending", together, so its
    recipients are fixed once; returns the deliveries (their people loaded), or None when another
    attempt fixed them first (the conditional update makes one of two attempts wait for the other)."""
    by_address = {}
    for person in recipients(notification):
        by_address.setdefault(person.email, person)  # one message per address
    deliveries = [NotificationDelivery(notification=notification, email=email, user=person)
                  for email, person in by_address.items()]  # fmt: skip
    with transaction.atomic():
        sending = Notification.objects.filter(pk=notification.pk, status=Notification.Status.PENDING).update(
            status=Notification.Status.SENDING
        )
        if not sending:
            return None
        return NotificationDelivery.objects.bulk_create(deliveries)


def notification_give_up(*, notification_id: int, reason: str) -> None:
    """After the last attempt: what was not delivered is marked failed, with the reason."""
    NotificationDelivery.objects.filter(
        notification_id=notification_id, status=NotificationDelivery.Status.PENDING
    ).update(status=NotificationDelivery.Status.FAILED, error=reason[:1000])
    Notification.objects.filter(pk=notification_id).update(status=Notification.Status.FAILED, error=reason[:2000])
