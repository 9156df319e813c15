"""Lockouts after repeated failed logins are audited."""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.dispatch import receiver

from approvals.audit import audit_record


@receiver(user_locked_out)
def audit_lockout(sender, request, username, ip_address, **kwargs):
    user = get_user_model().objects.filter(username=username).first() if username else None
    audit_record(
        actor=None,
        verb="login.locked_out",
        obj=user,
        object_type="user",
        object_repr=(username or "")[:200],
        data={"username": (username or "")[:150], "ip_address": ip_address or ""},
    )
