"""Writing and verifying audit events. Services call ``audit_record`` inside their transaction."""

from django.db import connection, transaction

from approvals.models import AuditEvent

# Key of the PostgreSQL advisory lock that serialises appends to the audit chain.
CHAIN_LOCK = 0x5167_0FF


def _lock_chain() -> None:
    """Hold the chain until this transaction ends, so two writers never link to the same
    event. SQLite needs nothing: it runs one write transaction at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])


def audit_record(
    *,
    actor,
    verb: str,
    obj,
    model=None,
    request=None,
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    data: dict | None = None,
) -> AuditEvent:
    """Append one audit event about ``obj``; ``actor`` None means the system (a worker)."""
    event = AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        verb=verb,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        model=model,
        request=request,
        from_state=from_state or "",
        to_state=to_state or "",
        comment=comment,
        data=data or {},
    )
    with transaction.atomic():
        _lock_chain()
        event.previous_digest = AuditEvent.objects.order_by("-pk").values_list("digest", flat=True).first() or ""
        event.digest = event.compute_digest()
        event.save()
    return event


def audit_chain_first_break() -> AuditEvent | None:
    """The first event whose digest or link to its predecessor does not hold, or None."""
    previous = ""
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=5000):
        if event.previous_digest != previous or event.digest != event.compute_digest():
            return event
        previous = event.digest
    return None
