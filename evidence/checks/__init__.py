"""Automated checks as plug-ins: each check type is a subclass of ``Check`` registered by name.

A workflow's ``checks`` step lists check types with their configuration; the configuration is
validated when the workflow is loaded, and each check runs in a Celery worker as a ``CheckRun``.
"""

from evidence.checks import builtin, evidence  # noqa: F401  (registers the built-in checks)
from evidence.checks.base import Check, CheckOutcome, TransientCheckError, get_check, registered_checks

__all__ = ["Check", "CheckOutcome", "TransientCheckError", "get_check", "registered_checks"]
