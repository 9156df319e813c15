"""Which kinds of e-mail a person receives (service): every kind is on until they mute it on
their e-mail settings page; each change is audited."""

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from notifications.models import DIGEST, MutedKind
from notifications.notifiers import NOTIFIERS

# The kinds of e-mail there are: events someone is e-mailed about, and the digest.
KINDS = {kind: label for kind, label in MutedKind.KINDS if kind in NOTIFIERS or kind == DIGEST}


def muted_kinds(user) -> set[str]:
    return set(MutedKind.objects.filter(user_id=user.pk).values_list("kind", flat=True))


def email_kinds_set(*, user, muted: set[str]) -> set[str]:
    """Mute exactly ``muted`` for ``user`` (every other kind is received); returns what changed."""
    unknown = sorted(set(muted) - set(KINDS))
    if unknown:
        raise ValidationError({"muted": f"There is no kind of e-mail called {unknown[0][:50]!r}."})
    with transaction.atomic():
        before = set(MutedKind.objects.select_for_update().filter(user_id=user.pk).values_list("kind", flat=True))
        if before == set(muted):
            return set()
        MutedKind.objects.filter(user_id=user.pk).exclude(kind__in=muted).delete()
        MutedKind.objects.bulk_create(
            [MutedKind(user=user, kind=kind) for kind in sorted(set(muted) - before)], ignore_conflicts=True
        )
        audit_record(
            actor=user, verb="email.settings_changed", obj=user,
            data={"muted": sorted(muted), "unmuted": sorted(before - set(muted))},
        )  # fmt: skip
    return before ^ set(muted)
