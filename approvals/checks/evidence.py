"""Checks that open the artifact: they run in the sandbox (``approvals.sandbox``), never here."""

import os

from approvals.checks.base import Check, CheckOutcome, TransientCheckError
from approvals.sandbox import SandboxInput, run_in_sandbox


def _artifact_input(version) -> dict[str, SandboxInput]:
    return {"artifact": SandboxInput(source=None, sha256=version.artifact_sha256, opener=version.artifact.open)}


def sandboxed(task: str, version, payload: dict) -> CheckOutcome:
    """Run ``task`` on ``version``'s artifact in the sandbox; any way it can end is an outcome."""
    try:
        result = run_in_sandbox(task, payload, _artifact_input(version))
    except FileNotFoundError:
        return CheckOutcome(False, "The artifact file is missing from storage.", {})
    except OSError as error:
        raise TransientCheckError(f"could not read the artifact: {error}") from error
    sandbox = {"isolated_network": result.isolated_network}
    if not result.ok:
        return CheckOutcome(False, result.error, {"sandbox": sandbox}, log=result.stderr)
    output = result.output
    return CheckOutcome(
        bool(output.get("passed")), str(output.get("summary", "")), {**output.get("details", {}), "sandbox": sandbox}
    )


class PickleScan(Check):
    """Pickle-based artifacts name only allow-listed globals (no os.system, eval, getattr, …)."""

    type = "pickle_scan"
    title = "Pickle scan (no code runs on load)"

    @classmethod
    def config_errors(cls, config):
        errors = []
        allow = config.get("allow", [])
        if not isinstance(allow, list) or not all(isinstance(item, str) and item.strip() for item in allow):
            errors.append("'allow' must be a list of module prefixes, e.g. allow: [lightgbm.]")
        unknown = set(config) - {"allow"}
        if unknown:
            errors.append(f"unknown keys: {', '.join(sorted(unknown))}")
        return errors

    def run(self, version, config):
        payload = {"file_name": os.path.basename(version.artifact.name), "allow": config.get("allow", [])}
        return sandboxed("approvals.sandbox.tasks:pickle_scan", version, payload)
