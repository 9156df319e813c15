"""Celery tasks: thin wrappers that load by id and call a service. All are idempotent."""

from celery import shared_task
from django.utils import timezone

from approvals import services
from approvals.checks import TransientCheckError
from approvals.models import Notification
from approvals.notifications import TRANSIENT_ERRORS, notification_deliver

RETRY_DELAYS = (2, 10, 30)


@shared_task(bind=True, max_retries=len(RETRY_DELAYS))
def run_check(self, check_run_id: int) -> None:
    final = self.request.retries >= self.max_retries
    try:
        services.check_run_execute(check_run_id=check_run_id, final_attempt=final)
    except TransientCheckError as error:
        raise self.retry(exc=error, countdown=RETRY_DELAYS[self.request.retries]) from error


@shared_task(bind=True, max_retries=len(RETRY_DELAYS))
def execute_step(self, step_id: int) -> None:
    try:
        services.step_execute(step_id=step_id)
    except Exception as error:
        if self.request.retries >= self.max_retries:
            from approvals.models import StepState

            step = StepState.objects.get(pk=step_id)
            services.request_fail(request_id=step.request_id, reason=f"'{step.title}' failed: {error}")
            return
        raise self.retry(exc=error, countdown=RETRY_DELAYS[self.request.retries]) from error


@shared_task(bind=True, max_retries=len(RETRY_DELAYS))
def send_notification(self, notification_id: int) -> None:
    """Send one notification's e-mails once: the row is claimed before sending."""
    claimed = Notification.objects.filter(pk=notification_id, status=Notification.Status.PENDING).update(
        status=Notification.Status.SENDING
    )
    if not claimed:
        return
    notification = Notification.objects.select_related(
        "request__version__created_by", "request__model", "request__submitted_by", "step", "decision", "actor"
    ).get(pk=notification_id)
    try:
        sent_to = notification_deliver(notification)
    except TRANSIENT_ERRORS as error:
        final = self.request.retries >= self.max_retries
        Notification.objects.filter(pk=notification_id).update(
            status=Notification.Status.FAILED if final else Notification.Status.PENDING, error=str(error)
        )
        if final:
            return
        raise self.retry(exc=error, countdown=RETRY_DELAYS[self.request.retries]) from error
    except Exception as error:
        Notification.objects.filter(pk=notification_id).update(status=Notification.Status.FAILED, error=repr(error))
        raise
    Notification.objects.filter(pk=notification_id).update(
        status=Notification.Status.SENT, recipients=sent_to, sent_at=timezone.now()
    )
