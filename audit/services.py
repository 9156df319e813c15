"""Writing and verifying audit events. Services call ``audit_record`` inside their transaction.

The log is tamper-evident in three layers:

1. the database refuses UPDATE, DELETE and TRUNCATE of audit rows (triggers, migration 0006),
   and the runtime database role cannot switch them off (``manage.py audit_grant_runtime_role``);
2. each event's ``digest`` is an HMAC-SHA-256, keyed with ``SIGNOFF_AUDIT_KEY`` (never stored in
   the database), over its content and the previous event's digest: whoever can write the
   database but not read the key cannot recompute the chain after an edit;
3. ``manage.py audit_checkpoint`` writes signed chain heads outside the database, so removing the
   newest events, or all of them, is found too.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timezone as dt_timezone
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditEvent

# First key of the PostgreSQL advisory locks that serialise appends to each audit chain.
CHAIN_LOCK = 0x5167


def _lock_chain(chain: int) -> None:
    """Hold ``chain`` until this transaction ends, so two writers never link to the same event;
    other chains (other models) stay free. SQLite needs nothing: it runs one write
    transaction at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CHAIN_LOCK, chain % 2**31])


def sign(content) -> str:
    """HMAC-SHA-256 of ``content`` (JSON-encoded in a fixed form) with the audit key."""
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hmac.new(settings.SIGNOFF_AUDIT_KEY.encode(), encoded, hashlib.sha256).hexdigest()


def event_digest(event: AuditEvent) -> str:
    """The keyed digest over the previous digest and every recorded field of ``event``."""
    return sign(
        [
            event.chain,
            event.previous_digest,
            event.created_at.astimezone(dt_timezone.utc).isoformat(),
            event.actor_id,
            event.verb,
            event.object_type,
            event.object_id,
            event.object_repr,
            event.model_id,
            event.request_id,
            event.from_state,
            event.to_state,
            event.comment,
            event.data,
        ]
    )


def audit_record(
    *,
    actor,
    verb: str,
    obj=None,
    model=None,
    request=None,
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    data: dict | None = None,
    object_type: str = "",
    object_repr: str = "",
) -> AuditEvent:
    """Append one audit event about ``obj``; ``actor`` None means the system (a worker).

    ``object_type`` / ``object_repr`` name the object when there is no row (e.g. a lockout of
    a username that does not exist).
    """
    event = AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        verb=verb,
        object_type=obj._meta.model_name if obj is not None else object_type,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=(object_repr or _name(obj, model))[:200],
        model=model,
        request=request,
        from_state=from_state or "",
        to_state=to_state or "",
        comment=comment,
        data=data or {},
    )
    event.chain = event.model_id or 0
    # Inside the caller's transaction when there is one (no savepoint: a failure here must undo
    # the caller's change anyway); in a transaction of its own otherwise, so the lock holds.
    with transaction.atomic(savepoint=False):
        _lock_chain(event.chain)
        newest = AuditEvent.objects.filter(chain=event.chain).order_by("-pk").values_list("digest", flat=True)
        event.previous_digest = newest.first() or ""
        event.digest = event_digest(event)
        event.save()
    return event


def _name(obj, model) -> str:
    """``str(obj)``; an object of ``model`` (a version: "credit-risk v3") is named with the model
    the caller passed, the same row, instead of reading it again."""
    if obj is None:
        return ""
    if model is not None and getattr(obj, "model_id", None) == model.pk:
        obj.model = model
    return str(obj)


def audit_chain_first_break() -> AuditEvent | None:
    """The first event whose digest or link to its predecessor in its chain does not hold, or None."""
    previous = {}
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=5000):
        if event.previous_digest != previous.get(event.chain, "") or not hmac.compare_digest(
            event.digest, event_digest(event)
        ):
            return event
        previous[event.chain] = event.digest
    return None


# ---------------------------------------------------------------------------------------------
# Checkpoints: signed chain heads kept outside the database


@dataclass(frozen=True)
class Checkpoint:
    """The newest event (``event_id``), how many events there were up to it, and the head
    (event id, digest) of every chain, signed with the audit key."""

    event_id: int
    count: int
    heads: dict[str, list]
    written_at: str

    def content(self) -> list:
        return ["checkpoint", self.event_id, self.count, self.heads, self.written_at]


def _chain_heads() -> dict[str, list]:
    newest = AuditEvent.objects.order_by().values("chain").annotate(head=Max("pk")).values("head")
    return {
        str(chain): [pk, digest]
        for chain, pk, digest in AuditEvent.objects.filter(pk__in=newest).values_list("chain", "pk", "digest")
    }


def checkpoint_write(directory: Path | None = None) -> tuple[Checkpoint, Path] | None:
    """Write every chain's current head to a signed file in ``directory``; None when the log is empty."""
    directory = Path(directory or settings.SIGNOFF_AUDIT_CHECKPOINT_DIR)
    heads = _chain_heads()
    if not heads:
        return None
    newest = max(pk for pk, _ in heads.values())
    checkpoint = Checkpoint(
        event_id=newest,
        count=AuditEvent.objects.filter(pk__lte=newest).count(),
        heads=heads,
        written_at=timezone.now().isoformat(),
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint-{checkpoint.event_id:012d}.json"
    payload = {**checkpoint.__dict__, "signature": sign(checkpoint.content())}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return checkpoint, path


def checkpoints_read(directory: Path | None = None) -> list[Checkpoint]:
    """Every checkpoint file in ``directory``, oldest first; a forged or damaged one raises ValueError."""
    directory = Path(directory or settings.SIGNOFF_AUDIT_CHECKPOINT_DIR)
    found = []
    for path in sorted(directory.glob("checkpoint-*.json")) if directory.exists() else []:
        try:
            payload = json.loads(path.read_text())
            checkpoint = Checkpoint(
                event_id=int(payload["event_id"]),
                count=int(payload["count"]),
                heads={str(chain): [int(head[0]), str(head[1])] for chain, head in payload["heads"].items()},
                written_at=str(payload["written_at"]),
            )
            valid = hmac.compare_digest(str(payload["signature"]), sign(checkpoint.content()))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
            raise ValueError(f"The checkpoint {path.name} is unreadable: {error}") from None
        if not valid:
            raise ValueError(f"The checkpoint {path.name} does not carry a valid signature.")
        found.append(checkpoint)
    return found


def audit_log_problems(directory: Path | None = None) -> list[str]:
    """Everything wrong with the log: a broken chain, and events a checkpoint saw that are gone
    or different (tail deletion, truncation, a rewritten chain). Empty when the log is intact."""
    problems = []
    broken = audit_chain_first_break()
    if broken is not None:
        problems.append(
            f"The chain breaks at event #{broken.pk} ({broken.created_at:%Y-%m-%d %H:%M:%S} {broken.verb} "
            f"{broken.object_repr}): it or the event before it was edited or removed."
        )
    try:
        checkpoints = checkpoints_read(directory)
    except ValueError as error:
        return [*problems, str(error)]
    for checkpoint in checkpoints:
        for chain, (event_id, digest) in sorted(checkpoint.heads.items(), key=lambda item: item[1][0]):
            found = AuditEvent.objects.filter(pk=event_id).values_list("digest", flat=True).first()
            if found is None:
                problems.append(
                    f"Event #{event_id}, the head of chain {chain} at the checkpoint of {checkpoint.written_at}, "
                    "is missing: the newest events were deleted or the log was truncated."
                )
            elif not hmac.compare_digest(found, digest):
                problems.append(
                    f"Event #{event_id} differs from the checkpoint of {checkpoint.written_at}: "
                    f"chain {chain} was rewritten."
                )
        if AuditEvent.objects.filter(pk__lte=checkpoint.event_id).count() != checkpoint.count:
            problems.append(
                f"The checkpoint of {checkpoint.written_at} counted {checkpoint.count} events up to "
                f"#{checkpoint.event_id}; some are missing."
            )
    return problems
