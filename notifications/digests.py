"""Daily digests: once a day, per person, what waits for their decision (overdue first) and
where the requests they submitted stand, in one e-mail.

The job runner's sweep (beat, every 10 s) writes the day's ``Digest`` row of each person due
(from ``SIGNOFF_DIGEST_HOUR`` in the installation's time zone, with an address, who did not mute
digests) and its job in one transaction, so a worker killed at any line leaves either both or
neither; the job renders and sends it (``digest_send``), and a digest with nothing to say is
marked empty and not sent.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import get_connection
from django.db import transaction
from django.utils import timezone

from approvals import permissions, selectors
from approvals.models import PromotionRequest
from jobs.runner import TransientError, jobs_enqueue_new
from notifications.models import DIGEST, SEND_DIGEST, Digest, MutedKind
from notifications.services import TRANSIENT_ERRORS, render_message

SWEEP_BATCH = 500  # people given their digest per sweep; the next sweep takes the rest
SHOWN = 20  # rows of each list in one digest


def digests_due(now: datetime | None = None) -> list[int]:
    """Write today's digest (and its job) for up to ``SWEEP_BATCH`` people who are due one."""
    now = timezone.localtime(now or timezone.now())
    if now.hour < settings.SIGNOFF_DIGEST_HOUR:
        return []
    day = now.date()
    people = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .exclude(pk__in=MutedKind.objects.filter(kind=DIGEST).values("user_id"))
        .exclude(pk__in=Digest.objects.filter(day=day).values("user_id"))
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    with transaction.atomic():
        digests = Digest.objects.bulk_create(Digest(user_id=user_id, day=day) for user_id in people)
        jobs_enqueue_new(SEND_DIGEST, [digest.pk for digest in digests])
    return [digest.pk for digest in digests]


def digests_sweep() -> int:
    return len(digests_due())


def digest_context(user, now: datetime | None = None) -> dict:
    """What one person's digest says: the requests waiting for them (overdue first) and their own
    open requests, each list at most ``SHOWN`` long with the total."""
    now = now or timezone.now()
    waiting = selectors.with_active_steps(
        list(permissions.requests_awaiting(user).select_related("model", "version").order_by("submitted_at")[:SHOWN])
    )
    for request in waiting:
        request.overdue = any(step.due_at and step.due_at <= now for step in request.active_steps)
    waiting.sort(key=lambda request: not request.overdue)
    mine = PromotionRequest.objects.filter(submitted_by_id=user.pk, status__in=PromotionRequest.OPEN_STATUSES)
    since = now - timedelta(days=1)
    return {
        "recipient": user,
        "waiting": waiting,
        "waiting_total": permissions.requests_awaiting(user).count() if len(waiting) == SHOWN else len(waiting),
        "overdue": sum(request.overdue for request in waiting),
        "mine": list(mine.select_related("model", "version", "current_step").order_by("-updated_at")[:SHOWN]),
        "since": since,
        "base_url": settings.SIGNOFF_BASE_URL,
        "request_url": f"{settings.SIGNOFF_BASE_URL}/requests/",
        "settings_url": f"{settings.SIGNOFF_BASE_URL}/profile/email/",
    }


def digest_send(digest_id: int) -> None:
    """Render and send the digest (once: a sent or empty one is left alone)."""
    digest = Digest.objects.select_related("user").get(pk=digest_id)
    if digest.status != Digest.Status.PENDING:
        return
    user = digest.user
    context = digest_context(user)
    if not context["waiting"] and not context["mine"] or not user.is_active or not user.email:
        Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.EMPTY)
        return
    try:
        with get_connection() as connection:
            connection.send_messages([render_message("emails/digest", context, user)])
    except TRANSIENT_ERRORS as error:
        raise TransientError(f"the mail server is unavailable: {error}") from error
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.SENT, sent_at=timezone.now())


def digest_give_up(*, digest_id: int, reason: str) -> None:
    Digest.objects.filter(pk=digest_id, status=Digest.Status.PENDING).update(
        status=Digest.Status.FAILED, error=reason[:2000]
    )
