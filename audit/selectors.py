"""Reads of the audit log, scoped to the models the reader may see."""

from django.db.models import QuerySet

from audit.models import AuditEvent
from registry.permissions import VIEW, model_filter


def audit_events(
    *, user, model_name: str | None = None, actor: str | None = None, verb: str | None = None
) -> QuerySet[AuditEvent]:
    """Audit events about models ``user`` may see (superusers: all), newest first."""
    events = AuditEvent.objects.select_related("actor", "model")
    events = events.filter(model_filter(user, VIEW, "model"))
    if model_name:
        events = events.filter(model__name=model_name)
    if actor:
        events = events.filter(actor__username=actor)
    if verb:
        events = events.filter(verb=verb)
    return events.order_by("-created_at", "-pk")
