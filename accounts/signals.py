"""Lockouts after repeated failed logins are audited."""

from datetime import timedelta

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.dispatch import receiver
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record


@receiver(user_locked_out)
def audit_lockout(sender, request, username, ip_address, **kwargs):
    """One event per lockout: attempts refused while it lasts add nothing (no audit flood)."""
    since = timezone.now() - timedelta(hours=settings.AXES_COOLOFF_TIME)
    recorded = AuditEvent.objects.filter(
        verb="login.locked_out",
        created_at__gte=since,
        data__username=(username or "")[:150],
        data__ip_address=ip_address or "",
    )
    if recorded.exists():
        return
    user = get_user_model().objects.filter(username=username).first() if username else None
    audit_record(
        actor=None,
        verb="login.locked_out",
        obj=user,
        object_type="user",
        object_repr=(username or "")[:200],
        data={"username": (username or "")[:150], "ip_address": ip_address or ""},
    )
