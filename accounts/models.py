"""Personal API tokens: hashed at rest, named, expiring, revocable, several per user.

The key is shown once, when it is created. The database keeps only a short public prefix
(to find the row) and the SHA-256 of the whole key, so neither a database reader nor an
administrator can recover a usable key. A key is 32 random bytes, so a fast hash is enough:
there is nothing to brute-force.
"""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Scope(models.TextChoices):
    """What an API token may do. A token for a CI pipeline reads, registers and submits; deciding
    and deploying are for tokens their owner asked for explicitly."""

    READ = "read", "read"
    REGISTER = "register", "register models, versions and datasets"
    SUBMIT = "submit", "submit versions"
    COMMENT = "comment", "comment on requests"
    DECIDE = "decide", "decide steps"
    DEPLOY = "deploy", "deploy and roll back"


DEFAULT_SCOPES = [Scope.READ, Scope.REGISTER, Scope.SUBMIT, Scope.COMMENT]


def default_scopes() -> list[str]:
    return [str(scope) for scope in DEFAULT_SCOPES]


class ApiToken(models.Model):
    """One personal API token of ``user``, used as ``Authorization: Token <key>``, limited to its
    ``scopes``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'CI pipeline'.")
    prefix = models.CharField(max_length=16, unique=True, editable=False, help_text="Public part of the key.")
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    scopes = models.JSONField(default=default_scopes, editable=False, help_text="What the token may do (Scope).")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"
        indexes = [models.Index(fields=["user", "-created_at"], name="token_user_idx")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.expires_at > timezone.now() else "expired"


class PasswordSetByOther(models.Model):
    """``user``'s password was set by someone else (an administrator, say): until ``user``
    changes it, it signs no decision, because someone else knows it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)
