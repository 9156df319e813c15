"""Deadlines of people's steps (``due: 2d`` in a workflow): when a waiting step is due, the
reminder before it, the escalation after it.

A human step that starts (or waits again, in a new round) gets ``due_at`` and ``remind_at`` from
its definition. The job runner's sweeper, run by Celery beat, finds the steps whose reminder or
deadline has come (``steps_due``) and passes each (``step_deadline_pass``): in one transaction
holding the request's lock it marks the reminder or the escalation as sent, writes the audit
event and announces it (the e-mail is a notification row and a job, written in that same
transaction), so each is sent at most once, and a worker killed at any line leaves it either
done or still due for the next sweep.
"""

import logging
import re
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from approvals.models import PromotionRequest, StepState
from approvals.signals import RequestEvent, announce
from audit.services import audit_record
from jobs.faults import fault_point

logger = logging.getLogger(__name__)

MAX_HOURS = 24 * 90
MAX_DAYS = 365
DURATION = re.compile(r"^\s*(\d{1,4})\s*(h|d)\s*$")
SWEEP_BATCH = 200  # steps passed per sweep; the next sweep takes the rest


def parse_duration(value) -> tuple[int, str] | None:
    """``"36h"`` → (36, "h"), ``"2d"`` → (2, "d"); None when it is not a duration in range."""
    if not isinstance(value, str):
        return None
    match = DURATION.match(value)
    if match is None:
        return None
    amount, unit = int(match[1]), match[2]
    if amount < 1 or amount > (MAX_HOURS if unit == "h" else MAX_DAYS):
        return None
    return amount, unit


def hours(duration: tuple[int, str]) -> int:
    amount, unit = duration
    return amount * (24 if unit == "d" else 1)


def _add_business_days(start: datetime, days: int) -> datetime:
    """``days`` working days (Monday to Friday, in the installation's time zone) after ``start``,
    at the same time of day: Friday 15:00 + 1 is Monday 15:00."""
    moment = timezone.localtime(start)
    while days:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def schedule(config: dict, start: datetime) -> tuple[datetime | None, datetime | None]:
    """(``due_at``, ``remind_at``) of a step with ``config`` that starts waiting at ``start``
    (None, None without a deadline)."""
    due = parse_duration(config.get("due") or "")
    if due is None:
        return None, None
    if due[1] == "d" and config.get("business_days"):
        due_at = _add_business_days(start, due[0])
    else:
        due_at = start + timedelta(hours=hours(due))
    before = parse_duration(config.get("remind_before") or "")
    remind_at = due_at - timedelta(hours=hours(before)) if before else start + (due_at - start) * 3 / 4
    return due_at, max(remind_at, start)


def steps_due(now: datetime | None = None) -> list[int]:
    """Waiting steps whose reminder or escalation has come and was not sent (oldest first)."""
    now = now or timezone.now()
    due = StepState.objects.filter(status=StepState.Status.WAITING).filter(
        Q(remind_at__lte=now, reminded_at=None) | Q(due_at__lte=now, escalated_at=None)
    )
    return list(due.order_by("remind_at", "pk").values_list("pk", flat=True)[:SWEEP_BATCH])


def step_deadline_pass(*, step_id: int, now: datetime | None = None) -> str | None:
    """Send what is due for the step: the escalation once its deadline passed (a reminder not
    yet sent is then skipped), otherwise the reminder once its time came. Returns "overdue",
    "reminder" or None (nothing due: decided meanwhile, or already sent)."""
    now = now or timezone.now()
    with transaction.atomic():
        request_id = StepState.objects.filter(pk=step_id).values_list("request_id", flat=True).first()
        if request_id is None:
            return None
        request = (
            PromotionRequest.objects.select_for_update(no_key=True, of=("self",))
            .select_related("model")
            .get(pk=request_id)
        )
        step = StepState.objects.get(pk=step_id)
        if step.status != StepState.Status.WAITING or request.status != PromotionRequest.Status.AWAITING_REVIEW:
            return None
        if step.due_at is not None and step.due_at <= now and step.escalated_at is None:
            sent, event = "overdue", RequestEvent.OVERDUE
            step.escalated_at = now
            step.reminded_at = step.reminded_at or now
        elif step.remind_at is not None and step.remind_at <= now and step.reminded_at is None:
            sent, event = "reminder", RequestEvent.REMINDER
            step.reminded_at = now
        else:
            return None
        step.save(update_fields=["reminded_at", "escalated_at"])
        audit_record(
            actor=None,
            verb=f"step.{sent}",
            obj=step,
            model=request.model,
            request=request,
            data={"step": step.name, "due_at": step.due_at.isoformat(), "round": step.round},
        )
        announce(request, event, step=step)
        fault_point("during_deadline")  # the fault tests' kill -9: all of it rolls back, the next sweep sends it
    return sent


def deadlines_sweep() -> int:
    """The sweeper's part: pass every step whose reminder or deadline has come. A step that
    fails is logged and tried again at the next sweep; the others go on."""
    passed = 0
    for step_id in steps_due():
        try:
            passed += step_deadline_pass(step_id=step_id) is not None
        except Exception:  # one broken step must not stop everyone's reminders
            logger.exception("The deadline of step %s could not be passed; the next sweep tries again.", step_id)
    return passed
