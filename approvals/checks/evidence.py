"""Checks that open the artifact: they run in the sandbox (``approvals.sandbox``), never here."""

import os

from approvals.checks.base import Check, CheckOutcome, TransientCheckError
from approvals.sandbox import SandboxInput, run_in_sandbox


def _artifact_input(version) -> dict[str, SandboxInput]:
    return {"artifact": SandboxInput(source=None, sha256=version.artifact_sha256, opener=version.artifact.open)}


def sandboxed(task: str, version, payload: dict, dataset=None) -> CheckOutcome:
    """Run ``task`` on ``version``'s artifact (and ``dataset``'s file) in the sandbox; any way it
    can end is an outcome."""
    inputs = _artifact_input(version)
    if dataset is not None:
        inputs["dataset"] = SandboxInput(source=None, sha256=dataset.sha256, opener=dataset.file.open)
    try:
        result = run_in_sandbox(task, payload, inputs)
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


def _is_fraction(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


class Reevaluate(Check):
    """Signoff measures the version itself on the model's evaluation dataset, in the sandbox,
    and fails when the author's reported metrics differ from the measured ones."""

    type = "reevaluate"
    title = "Re-evaluation on the hold-out dataset"

    @classmethod
    def config_errors(cls, config):
        errors = []
        if "dataset" in config and (not isinstance(config["dataset"], str) or not config["dataset"].strip()):
            errors.append("'dataset' must name one of the model's evaluation datasets")
        if "tolerance" in config and not _is_fraction(config["tolerance"]):
            errors.append(f"'tolerance' must be a number between 0 and 1, not {config['tolerance']!r}")
        unknown = set(config) - {"dataset", "tolerance"}
        if unknown:
            errors.append(f"unknown keys: {', '.join(sorted(unknown))}")
        return errors

    @classmethod
    def describe(cls, config):
        return f"Re-evaluation on {config['dataset']!r}" if "dataset" in config else cls.title

    def run(self, version, config):
        from django.conf import settings

        model = version.model
        datasets = model.datasets.order_by("-created_at", "-pk")
        dataset = datasets.filter(name=config["dataset"]).first() if "dataset" in config else datasets.first()
        if dataset is None:
            missing = (
                f"evaluation dataset called {config['dataset']!r}" if "dataset" in config else "evaluation dataset"
            )
            return CheckOutcome(
                False,
                f"{model.name} has no {missing}; register one with POST /api/models/{model.name}/datasets/ "
                "(multipart: file, name, target_column).",
                {},
            )
        payload = {
            "artifact_name": os.path.basename(version.artifact.name),
            "format": dataset.format,
            "target": dataset.target_column,
            "max_rows": settings.SIGNOFF_MAX_DATASET_ROWS,
            "reported": version.metrics,
            "tolerance": config.get("tolerance", 0.02),
        }
        outcome = sandboxed("approvals.sandbox.evaluation:reevaluate", version, payload, dataset=dataset)
        outcome.details["dataset"] = {"name": dataset.name, "sha256": dataset.sha256, "rows": dataset.row_count}
        return outcome
