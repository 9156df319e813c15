"""Writes about people's credentials: API tokens. Each one is audited."""

import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, Scope, default_scopes, key_digest
from accounts.selectors import api_token_by_prefix
from audit.services import audit_record

_PREFIX = re.compile(r"[0-9a-f]{8}")  # secrets.token_hex(4), as api_token_create makes it
MAX_TOKEN_DAYS = 366
MAX_ACTIVE_TOKENS = 20


def api_token_create(*, user, name: str, days: int | None = None, scopes=None) -> tuple[ApiToken, str]:
    """Create a token for ``user`` (only for themselves) with ``scopes`` (default: read, register,
    submit); returns the row and the key, shown once."""
    name = (name or "").strip()
    days = settings.SIGNOFF_TOKEN_DAYS if days is None else days
    scopes = default_scopes() if scopes is None else scopes
    errors = {}
    if not isinstance(scopes, list | tuple) or not scopes or not set(scopes) <= set(Scope.values):
        errors["scopes"] = [f"Choose the token's scopes among {', '.join(Scope.values)}."]
    if not name or len(name) > 100:
        errors["name"] = ["Name the token (1–100 characters), e.g. 'CI pipeline'."]
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_TOKEN_DAYS:
        errors["days"] = [f"A token lives 1 to {MAX_TOKEN_DAYS} days."]
    if errors:
        raise ValidationError(errors)
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied("Log in to create a token.")
    prefix = secrets.token_hex(4)
    key = f"so_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        active = ApiToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()).count()
        if active >= MAX_ACTIVE_TOKENS:
            raise ValidationError({"name": [f"You have {active} active tokens; revoke one first."]})
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            digest=key_digest(key),
            expires_at=timezone.now() + timedelta(days=days),
            scopes=sorted(set(scopes), key=Scope.values.index),
        )
        audit_record(
            actor=user,
            verb="token.created",
            obj=token,
            data={
                "user": user.username,
                "name": name,
                "expires_at": token.expires_at.isoformat(),
                "scopes": token.scopes,
            },  # fmt: skip
        )
    return token, key


def api_token_revoke(*, token: ApiToken, actor) -> None:
    """Revoke ``token``: its owner may, and so may an administrator (who still never sees it)."""
    if not actor.is_authenticated or (actor.pk != token.user_id and not actor.is_superuser):
        raise PermissionDenied("You may revoke only your own tokens.")
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked:
            audit_record(
                actor=actor, verb="token.revoked", obj=token, data={"user": token.user.username, "name": token.name}
            )


def api_token_authenticate(key: str) -> ApiToken | None:
    """The active token whose key is ``key``, its last use recorded; None for anything else."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "so" or not _PREFIX.fullmatch(parts[1]):
        return None
    token = api_token_by_prefix(parts[1])
    if token is None or not secrets.compare_digest(token.digest, key_digest(key)) or not token.is_active:
        return None
    now = timezone.now()
    # At most one write a minute per token: last use is for people, not an access log.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
