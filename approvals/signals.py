"""Domain signals of the engine, sent inside the transaction of the change (the seam that
e-mail, webhooks and MLflow write-back hang on): receivers write their own rows, and anything
slow happens after commit, in a job."""

from django.db import models
from django.dispatch import Signal


class RequestEvent(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    REVIEW_REQUESTED = "review_requested", "Review requested"
    DECISION = "decision", "Decision made"
    CHECKS_FAILED = "checks_failed", "Checks failed"
    DEPLOYED = "deployed", "Deployed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    WITHDRAWN = "withdrawn", "Withdrawn"
    COMMENTED = "commented", "Comment"
    REMINDER = "reminder", "Reminder: a step is due soon"
    OVERDUE = "overdue", "A step is overdue"
    WAIVER_REQUESTED = "waiver_requested", "Waiver requested"
    WAIVER_DECIDED = "waiver_decided", "Waiver decided"
    EMERGENCY_REQUESTED = "emergency_requested", "Emergency release asked for"
    EMERGENCY_DECIDED = "emergency_decided", "Emergency release decided"


# Sent with ``event`` (a RequestEvent), ``request``, and ``step``, ``decision``, ``actor``,
# ``comment``, ``waiver``, ``emergency`` where they apply (None otherwise).
request_event = Signal()


def announce(
    request, event: str, *, step=None, decision=None, actor=None, comment=None, waiver=None, emergency=None
) -> None:
    """Tell the receivers what happened to ``request`` (inside the caller's transaction)."""
    request_event.send(
        sender=type(request), event=event, request=request, step=step, decision=decision, actor=actor,
        comment=comment, waiver=waiver, emergency=emergency,
    )  # fmt: skip
