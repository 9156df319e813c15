"""A signed approval anyone can verify: when a deployment runs, Signoff writes an in-toto
Statement (v1) about the version's artifact, in a DSSE envelope signed with Ed25519.

- subject: the artifact's file name and SHA-256;
- predicate (``PREDICATE_TYPE``): the model, version, stage (``production``), the workflow and its
  revision digest, each step with its status, and each decision with decider, role, time,
  comment and evidence digest; each check with its outcome and input hashes.

The private key is ``SIGNOFF_ATTESTATION_KEY`` (outside the database); the public key is served
at ``/attestations/public-key.pem``. ``signoff attestation verify`` (the client in ``client/``)
checks an envelope with no network: the signature, the artifact's bytes and the stage.
"""

import base64
import hashlib
import json
from functools import cache
from pathlib import PurePosixPath

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from approvals.models import Attestation, CheckRun, PromotionRequest, StepState
from audit.services import audit_record
from registry.roles import remember_groups, roles_in

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://signoff.dev/attestations/approval/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"


@cache
def signing_key() -> Ed25519PrivateKey:
    seed = settings.SIGNOFF_ATTESTATION_KEY.strip()
    try:
        raw = bytes.fromhex(seed)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ImproperlyConfigured("SIGNOFF_ATTESTATION_KEY must be 64 hex digits (an Ed25519 key's 32-byte seed).")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_pem() -> bytes:
    return (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def key_id() -> str:
    """SHA-256 of the public key's raw 32 bytes, hex: names the key in the envelope."""
    raw = signing_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope_sign(statement: dict) -> dict:
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    signature = signing_key().sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id(), "sig": base64.b64encode(signature).decode()}],
    }


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def statement_for(request: PromotionRequest, deployment: StepState) -> dict:
    """The in-toto Statement that ``request``'s version is approved for production."""
    version, model = request.version, request.model
    decisions, made = {}, list(request.decisions.select_related("actor", "on_behalf_of").order_by("created_at", "pk"))
    remember_groups([decision.on_behalf_of or decision.actor for decision in made])  # every decider's roles at once
    for decision in made:
        decisions.setdefault(decision.step_id, []).append(decision)
    checks = {}
    for run in CheckRun.objects.filter(step__request=request).order_by("step_id", "position"):
        checks.setdefault(run.step_id, []).append(run)
    inputs = {"artifact_sha256": version.artifact_sha256}
    if request.dataset_id:
        inputs["dataset_sha256"] = request.dataset.sha256
    steps = []
    for step in request.steps.prefetch_related("approver_groups").order_by("position"):
        step_roles = {group.name for group in step.approver_groups.all()}
        entry = {"name": step.name, "title": step.title, "kind": step.kind, "status": step.status, "round": step.round}
        if step.pk == deployment.pk:
            entry["status"] = "deploying"
        if step.result.get("by_policy"):
            entry["approved_by_policy"] = step.result["by_policy"]
        if step.pk in decisions:
            entry["decisions"] = [
                {
                    "decider": decision.actor.get_username(),
                    "on_behalf_of": decision.on_behalf_of.get_username() if decision.on_behalf_of else None,
                    "role": sorted(step_roles & roles_in(decision.on_behalf_of or decision.actor, model.team_id)),
                    "verdict": decision.verdict,
                    "round": decision.round,
                    "time": _when(decision.created_at),
                    "comment": decision.comment,
                    "evidence_digest": decision.evidence_digest,
                }
                for decision in decisions[step.pk]
            ]
        if step.pk in checks:
            entry["checks"] = [
                {
                    "type": run.check_type,
                    "title": run.title,
                    "outcome": run.status,
                    "summary": run.summary,
                    "inputs": inputs,
                }  # fmt: skip
                for run in checks[step.pk]
            ]
        steps.append(entry)
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": PurePosixPath(version.artifact.name).name, "digest": {"sha256": version.artifact_sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "model": model.name,
            "version": version.number,
            "stage": "production",
            "emergency_release": version.emergency_release,
            "request": request.pk,
            "submitted_by": request.submitted_by.get_username(),
            "workflow": {
                "name": request.workflow_name,
                "revision": request.revision.number if request.revision_id else None,
                "digest": request.revision.digest if request.revision_id else None,
            },
            "steps": steps,
            "issuer": settings.SIGNOFF_BASE_URL,
        },
    }


def attestation_for_deployment(step: StepState) -> Attestation:
    """The signed approval of the deployment step's current round, written once (a job that runs
    the deployment again reuses it) and audited."""
    existing = Attestation.objects.filter(step=step, round=step.round).first()
    if existing:
        return existing
    request = PromotionRequest.objects.select_related("version", "model", "submitted_by", "revision", "dataset").get(
        pk=step.request_id
    )
    with transaction.atomic():
        envelope = envelope_sign(statement_for(request, step))
        attestation, created = Attestation.objects.get_or_create(
            step=step,
            round=step.round,
            defaults={"request": request, "version": request.version, "envelope": envelope, "key_id": key_id()},
        )
        if created:
            audit_record(
                actor=None, verb="version.attested", obj=request.version, model=request.model, request=request,
                data={"attestation": attestation.pk, "key_id": attestation.key_id,
                      "artifact_sha256": request.version.artifact_sha256},
            )  # fmt: skip
    return attestation


def envelope_bytes(attestation: Attestation) -> bytes:
    return json.dumps(attestation.envelope, indent=2, sort_keys=True).encode() + b"\n"
