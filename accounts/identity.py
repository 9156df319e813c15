"""Every change to who someone is, or what they may do, is audited in the chain, wherever it is
made: the admin's forms, the shell, a management command, a data migration's ORM calls.

Signals on ``User`` (created; username, e-mail, active, staff and superuser status; password)
and on its group memberships (from either side) write the event; the acting person is the
authenticated user of the web request that made the change (``AuditActorMiddleware``), or
nobody (the system) outside one. A password set by someone else is marked
(``PasswordSetByOther``) until its owner changes it.
"""

import contextvars

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from accounts.models import PasswordSetByOther
from audit.services import audit_record

_actor = contextvars.ContextVar("signoff_audit_actor", default=None)
WATCHED = ("username", "email", "is_active", "is_staff", "is_superuser")
User = get_user_model()


class AuditActorMiddleware:
    """Names the request's user as the actor of identity changes made while it runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _actor.set(request)
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)


def current_actor():
    request = _actor.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


@receiver(pre_save, sender=User)
def remember_before(sender, instance, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    instance._signoff_before = User.objects.filter(pk=instance.pk).values("password", *WATCHED).first()


@receiver(post_save, sender=User)
def audit_user_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    actor = current_actor()
    by_other = actor is not None and actor.pk != instance.pk
    if created:
        state = {field: getattr(instance, field) for field in WATCHED}
        state["password_set"] = instance.has_usable_password()
        audit_record(actor=actor, verb="user.created", obj=instance, data=state)
        if by_other and instance.has_usable_password():
            PasswordSetByOther.objects.update_or_create(user=instance, defaults={"set_by": actor})
        return
    before = getattr(instance, "_signoff_before", None) or {}
    changes = {field: [before[field], getattr(instance, field)] for field in WATCHED
               if field in before and before[field] != getattr(instance, field)}  # fmt: skip
    if changes:
        audit_record(actor=actor, verb="user.changed", obj=instance, data={"changes": changes})
    if before and before["password"] != instance.password:
        audit_record(actor=actor, verb="user.password_set", obj=instance, data={"by_owner": not by_other})
        if by_other:
            PasswordSetByOther.objects.update_or_create(user=instance, defaults={"set_by": actor})
        elif actor is not None:  # the owner chose a new one
            PasswordSetByOther.objects.filter(user=instance).delete()
    instance._signoff_before = None


@receiver(m2m_changed, sender=User.groups.through)
def audit_memberships(sender, instance, action, reverse, pk_set, **kwargs):
    """One event per user whose groups changed, whichever side the change was made from."""
    if action == "pre_clear":
        # What a clear removes, read before it happens.
        instance._signoff_cleared = (
            list(instance.user_set.values_list("pk", flat=True)) if reverse
            else list(instance.groups.values_list("pk", flat=True))
        )  # fmt: skip
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    ids = set(pk_set or ()) if action != "post_clear" else set(getattr(instance, "_signoff_cleared", ()))
    if not ids:
        return
    verb = "added" if action == "post_add" else "removed"
    if reverse:  # group.user_set.add(...): instance is the group
        pairs = [(user, [instance.name]) for user in User.objects.filter(pk__in=ids)]
    else:
        pairs = [(instance, sorted(Group.objects.filter(pk__in=ids).values_list("name", flat=True)))]
    for user, groups in pairs:
        audit_record(actor=current_actor(), verb="user.groups_changed", obj=user, data={verb: groups})
