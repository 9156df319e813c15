"""The Signoff client: ``Client`` for the API, ``verify`` for signed approvals, ``signoff`` the CLI."""

from signoff_client.api import Client, SignoffError
from signoff_client.attestation import VerificationError, verify

__all__ = ["Client", "SignoffError", "VerificationError", "verify"]
