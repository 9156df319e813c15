"""Delegations (services): a person names a delegate for a period (out of office), optionally
only on some models and steps of some roles. The delegate then decides the steps that name the
person, and is told whenever the person is asked; their decisions record "on behalf of". A
delegation lapses by itself at its end; its principal may revoke it earlier. Both are audited.

The delegate gains no right they lack: they must hold every role the delegation covers and have
access to every model it names, and ``approvals.permissions`` applies every separation-of-duties
rule to them in their own right.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.models import Delegation
from audit.services import audit_record
from registry import permissions as registry_permissions
from registry.roles import role_names
from registry.validation import clean_text


def _validate(*, principal, delegate, starts_at, ends_at, reason: str, models, roles) -> str:
    problems = {}
    try:
        reason = clean_text(
            reason, field="reason", limit=500, required="Say why, e.g. 'On leave; ivan decides for me'."
        )
    except ValidationError as error:
        problems.update({field: messages[0] for field, messages in error.message_dict.items()})
    if delegate.pk == principal.pk:
        problems["delegate"] = "Name someone else."
    elif not delegate.is_active:
        problems["delegate"] = f"{delegate.username} cannot log in."
    longest = timedelta(days=settings.SIGNOFF_DELEGATION_MAX_DAYS)
    if ends_at <= starts_at:
        problems["ends_at"] = "The end must come after the start."
    elif ends_at <= timezone.now():
        problems["ends_at"] = "The end is in the past."
    elif ends_at - starts_at > longest:
        problems["ends_at"] = f"A delegation lasts at most {settings.SIGNOFF_DELEGATION_MAX_DAYS} days."
    mine, theirs = role_names(principal), role_names(delegate)
    for role in roles:
        if role.name not in mine:
            problems["roles"] = f"You do not hold the role {role.name}."
        elif role.name not in theirs:
            problems["roles"] = f"{delegate.username} does not hold the role {role.name}; they must, to decide for you."
    for model in models:
        if not registry_permissions.can(principal, registry_permissions.ACT, model):
            problems["models"] = f"You do not have access to {model.name}."
        elif not registry_permissions.can(delegate, registry_permissions.ACT, model):
            problems["models"] = f"{delegate.username} has no access to {model.name}."
    if problems:
        raise ValidationError(problems)
    return reason


def delegation_create(
    *, principal, delegate, starts_at, ends_at, reason: str, actor, models=(), roles=()
) -> Delegation:
    """``principal`` (who must be ``actor``) names ``delegate`` from ``starts_at`` to ``ends_at``."""
    if actor.pk != principal.pk or not actor.is_active:
        raise PermissionDenied("Only a person names their own delegate.")
    reason = _validate(
        principal=principal, delegate=delegate, starts_at=starts_at, ends_at=ends_at, reason=reason,
        models=models, roles=roles,
    )  # fmt: skip
    with transaction.atomic():
        # The principal's row serialises their delegations, so two at once cannot both pass the check.
        get_user_model().objects.select_for_update().filter(pk=principal.pk).first()
        overlapping = Delegation.objects.filter(
            principal=principal, delegate=delegate, revoked_at=None, starts_at__lt=ends_at, ends_at__gt=starts_at
        )
        if overlapping.exists():
            raise ValidationError({"delegate": f"{delegate.username} already stands in for you in that period."})
        delegation = Delegation.objects.create(
            principal=principal,
            delegate=delegate,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            created_by=actor,
        )
        delegation.registered_models.set(models)
        delegation.roles.set(roles)
        audit_record(
            actor=actor, verb="delegation.created", obj=delegation, comment=reason,
            data={"principal": principal.username, "delegate": delegate.username, "starts_at": starts_at.isoformat(),
                  "ends_at": ends_at.isoformat(), "models": sorted(m.name for m in models),
                  "roles": sorted(r.name for r in roles)},
        )  # fmt: skip
    return delegation


def delegation_revoke(*, delegation: Delegation, actor) -> Delegation:
    """The principal ends a delegation now (one already ended or revoked stays as it is)."""
    if actor.pk != delegation.principal_id:
        raise PermissionDenied("Only the person who named the delegate may revoke it.")
    with transaction.atomic():
        delegation = Delegation.objects.select_for_update().get(pk=delegation.pk)
        if delegation.revoked_at is not None or delegation.ends_at <= timezone.now():
            return delegation
        delegation.revoked_at = timezone.now()
        delegation.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor, verb="delegation.revoked", obj=delegation,
            data={"principal": delegation.principal.username, "delegate": delegation.delegate.username},
        )  # fmt: skip
    return delegation
