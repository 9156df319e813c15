"""Reads of the audit log, scoped to the models the reader may see."""

from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from registry.permissions import VIEW, model_filter


def audit_events(
    *,
    user,
    model_name: str | None = None,
    actor: str | None = None,
    verb: str | None = None,
    contains: bool = False,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """Audit events about models ``user`` may see (superusers: all), newest first. ``contains``:
    ``model_name`` and ``actor`` match any part of the name (the page's search), not all of it;
    ``since`` / ``until``: days, inclusive, in the installation's time zone."""
    events = AuditEvent.objects.select_related("actor", "model")
    events = events.filter(model_filter(user, VIEW, "model"))
    match = "icontains" if contains else "exact"
    if model_name:
        events = events.filter(**{f"model__name__{match}": model_name})
    if actor:
        events = events.filter(**{f"actor__username__{match}": actor})
    if verb:
        events = events.filter(verb=verb)
    if since:
        events = events.filter(created_at__gte=day_start(since))
    if until:
        events = events.filter(created_at__lt=day_start(until + timedelta(days=1)))
    return events.order_by("-created_at", "-pk")


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the installation's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))
