"""Verify a Signoff signed approval offline: a DSSE envelope (Ed25519) of an in-toto Statement.

``verify`` checks, with no network: the signature against the public key, that the statement
is Signoff's approval, that the artifact's bytes have the SHA-256 of its subject, and that the
stage it approves is the one asked for (production by default).
"""

import base64
import binascii
import hashlib
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://signoff.dev/attestations/approval/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"


class VerificationError(Exception):
    """The approval does not hold; the message says which part failed."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(pem)
    except ValueError as error:
        raise VerificationError(f"The public key is not a PEM public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise VerificationError("The public key is not an Ed25519 key.")
    return key


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(envelope: dict, *, artifact: Path, public_key_pem: bytes, stage: str = "production") -> dict:
    """The statement, once every check passed; ``VerificationError`` otherwise."""
    if not isinstance(envelope, dict) or envelope.get("payloadType") != PAYLOAD_TYPE:
        raise VerificationError(f"Not a DSSE envelope of an in-toto statement (payloadType {PAYLOAD_TYPE}).")
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
    except (KeyError, TypeError, binascii.Error):
        raise VerificationError("The envelope's payload or signatures are not base64.") from None
    key = _public_key(public_key_pem)
    signed = pae(PAYLOAD_TYPE, payload)
    for signature in signatures:
        try:
            key.verify(signature, signed)
            break
        except InvalidSignature:
            continue
    else:
        raise VerificationError("No signature of the envelope is valid for this public key.")
    try:
        statement = json.loads(payload)
    except ValueError:
        raise VerificationError("The signed payload is not JSON.") from None
    if statement.get("_type") != STATEMENT_TYPE or statement.get("predicateType") != PREDICATE_TYPE:
        raise VerificationError("The signed statement is not a Signoff approval.")
    subjects = statement.get("subject") or []
    actual = _sha256(Path(artifact))
    if not any(isinstance(s, dict) and s.get("digest", {}).get("sha256") == actual for s in subjects):
        expected = ", ".join(str(s.get("digest", {}).get("sha256")) for s in subjects if isinstance(s, dict))
        raise VerificationError(f"The artifact's SHA-256 is {actual}; the approval is for {expected}.")
    approved = statement.get("predicate", {}).get("stage")
    if approved != stage:
        raise VerificationError(f"The approval is for the stage {approved!r}, not {stage!r}.")
    return statement
