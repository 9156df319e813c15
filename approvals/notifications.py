"""E-mail about requests: recipients → templates → context → send, one message per recipient.

Templates live in ``templates/emails/<event>/`` as ``subject.txt``, ``body.txt`` and
``body.html``. Every message links to the request page with an absolute URL built from
``SIGNOFF_BASE_URL``. The actor of the change and users without an e-mail address are skipped.
"""

import smtplib
import socket

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import timezone

from approvals import permissions
from approvals.faults import fault_point
from approvals.models import CheckRun, Decision, Notification, NotificationDelivery
from registry import permissions as registry_permissions
from registry.models import ModelVersion

# Errors worth retrying: the server may be back in a moment. Anything else is permanent.
TRANSIENT_ERRORS = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, ConnectionError)


def recipients(notification: Notification) -> list:
    request = notification.request
    User = get_user_model()
    event = notification.event
    if event == Notification.Event.REVIEW_REQUESTED:
        users = list(permissions.users_who_can(permissions.DECIDE, notification.step, as_the_step_started=True))
    elif event in (Notification.Event.DECISION, Notification.Event.CHECKS_FAILED):
        users = [request.submitted_by]
    elif event == Notification.Event.DEPLOYED:
        approver_ids = Decision.objects.filter(
            request=request, verdict=Decision.Verdict.APPROVE, step__kind="approval"
        ).values("actor_id")
        users = [request.submitted_by, *User.objects.filter(pk__in=approver_ids)]
    elif event == Notification.Event.ROLLED_BACK:
        users = list(registry_permissions.users_who_can(registry_permissions.ACT, request.model))
    else:
        raise ValueError(f"Unknown notification event {event!r}")
    unique = {user.pk: user for user in users if user.is_active and user.email}
    unique.pop(notification.actor_id, None)
    return list(unique.values())


def context_for(notification: Notification, recipient) -> dict:
    request = notification.request
    step = notification.step
    failing = []
    if notification.event == Notification.Event.CHECKS_FAILED and step is not None:
        failing = list(step.check_runs.exclude(status=CheckRun.Status.PASSED))
    return {
        "notification": notification,
        "request": request,
        "version": request.version,
        "model": request.model,
        "step": step,
        "decision": notification.decision,
        "actor": notification.actor,
        "failing_checks": failing,
        "recipient": recipient,
        "request_url": f"{settings.SIGNOFF_BASE_URL}{request.get_absolute_url()}",
        "model_url": f"{settings.SIGNOFF_BASE_URL}{request.model.get_absolute_url()}",
        "restored": ModelVersion.objects.filter(model=request.model, stage=ModelVersion.Stage.PRODUCTION).first()
        if notification.event == Notification.Event.ROLLED_BACK
        else None,
    }


def build_message(notification: Notification, recipient) -> EmailMultiAlternatives:
    folder = f"emails/{notification.event}"
    context = context_for(notification, recipient)
    subject = " ".join(render_to_string(f"{folder}/subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=f"[Signoff] {subject}",
        body=render_to_string(f"{folder}/body.txt", context),
        to=[recipient.email],
    )
    message.attach_alternative(render_to_string(f"{folder}/body.html", context), "text/html")
    return message


def notification_send(notification_id: int) -> None:
    """Deliver a notification: one delivery row per recipient, each sent at most once.

    Recipients are fixed at the first attempt. A recipient the server refuses is retried alone
    (``TransientError`` while any delivery is pending); those already sent are not sent again.
    Slow network I/O happens outside any transaction.
    """
    from approvals.jobs import TransientError

    notification = Notification.objects.select_related(
        "request__version__created_by", "request__model", "request__submitted_by", "step", "decision", "actor"
    ).get(pk=notification_id)
    if not notification.deliveries.exists():
        for person in recipients(notification):
            NotificationDelivery.objects.get_or_create(
                notification=notification, email=person.email, defaults={"user": person}
            )
        Notification.objects.filter(pk=notification.pk).update(status=Notification.Status.SENDING)
    pending = list(notification.deliveries.filter(status=NotificationDelivery.Status.PENDING).select_related("user"))
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
    sent_to = list(notification.deliveries.values_list("email", flat=True))
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENT, recipients=sent_to, sent_at=timezone.now(), error=""
    )


def notification_give_up(*, notification_id: int, reason: str) -> None:
    """After the last attempt: what was not delivered is marked failed, with the reason."""
    NotificationDelivery.objects.filter(
        notification_id=notification_id, status=NotificationDelivery.Status.PENDING
    ).update(status=NotificationDelivery.Status.FAILED, error=reason[:1000])
    Notification.objects.filter(pk=notification_id).update(status=Notification.Status.FAILED, error=reason[:2000])
