"""The registry announces each write it makes; the approvals app records it in the audit log.

The registry knows nothing of approvals, so it cannot call ``audit.services`` itself. A signal
is synchronous: the receiver writes the audit event inside the service's transaction, so the
change and its record commit or roll back together.
"""

from django.dispatch import Signal

# Sent with: actor, verb, obj, model (a RegisteredModel or None), data (a dict), comment.
registry_changed = Signal()


def announce(*, actor, verb: str, obj, model=None, data: dict | None = None, comment: str = "") -> None:
    registry_changed.send(
        sender=type(obj), actor=actor, verb=verb, obj=obj, model=model, data=data or {}, comment=comment
    )
