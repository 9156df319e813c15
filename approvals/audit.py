"""Writing audit events. Called by services inside their transaction."""

from approvals.models import AuditEvent


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
    return AuditEvent.objects.create(
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
