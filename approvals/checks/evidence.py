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


class DatasetCheck(Check):
    """A check that measures the version on one of its model's evaluation datasets (``dataset:``
    names it; the latest otherwise)."""

    options: dict = {}  # further config keys → a validator returning an error or None

    @classmethod
    def config_errors(cls, config):
        errors = []
        if "dataset" in config and (not isinstance(config["dataset"], str) or not config["dataset"].strip()):
            errors.append("'dataset' must name one of the model's evaluation datasets")
        for key, validate in cls.options.items():
            if key in config and (problem := validate(config[key])):
                errors.append(f"'{key}' {problem}, not {config[key]!r}")
        unknown = set(config) - {"dataset", *cls.options}
        if unknown:
            errors.append(f"unknown keys: {', '.join(sorted(unknown))}")
        return errors

    @staticmethod
    def dataset(version, config):
        datasets = version.model.datasets.order_by("-created_at", "-pk")
        return datasets.filter(name=config["dataset"]).first() if "dataset" in config else datasets.first()

    @staticmethod
    def no_dataset(version, config) -> CheckOutcome:
        model = version.model
        missing = f"evaluation dataset called {config['dataset']!r}" if "dataset" in config else "evaluation dataset"
        return CheckOutcome(
            False,
            f"{model.name} has no {missing}; register one on the model page or with "
            f"POST /api/models/{model.name}/datasets/ (multipart: file, name, target_column).",
            {},
        )

    def measure(self, task: str, version, dataset, **payload) -> CheckOutcome:
        from django.conf import settings

        payload = {
            "artifact_name": os.path.basename(version.artifact.name),
            "format": dataset.format,
            "target": dataset.target_column,
            "max_rows": settings.SIGNOFF_MAX_DATASET_ROWS,
            **payload,
        }
        outcome = sandboxed(task, version, payload, dataset=dataset)
        outcome.details["dataset"] = {"name": dataset.name, "sha256": dataset.sha256, "rows": dataset.row_count}
        return outcome


def _fraction(value) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    return None if ok else "must be a number between 0 and 1"


def _column(value) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must name a column"


class Reevaluate(DatasetCheck):
    """Signoff measures the version itself on the model's evaluation dataset, in the sandbox,
    and fails when the author's reported metrics differ from the measured ones."""

    type = "reevaluate"
    title = "Re-evaluation on the hold-out dataset"
    options = {"tolerance": _fraction}

    def run(self, version, config):
        dataset = self.dataset(version, config)
        if dataset is None:
            return self.no_dataset(version, config)
        return self.measure(
            "approvals.sandbox.evaluation:reevaluate",
            version,
            dataset,
            reported=version.metrics,
            tolerance=config.get("tolerance", 0.02),
        )


class Fairness(DatasetCheck):
    """Per-group metrics over a sensitive attribute (fairlearn); fails when the demographic-parity
    or equalized-odds difference exceeds its limit (0.1 unless configured)."""

    type = "fairness"
    title = "Fairness across groups"
    options = {
        "attribute": _column,
        "max_demographic_parity_difference": _fraction,
        "max_equalized_odds_difference": _fraction,
    }

    def run(self, version, config):
        dataset = self.dataset(version, config)
        if dataset is None:
            return self.no_dataset(version, config)
        attribute = config.get("attribute") or next(iter(dataset.sensitive_columns), None)
        if attribute is None:
            return CheckOutcome(
                False,
                f"The dataset {dataset.name} names no sensitive column; register one with sensitive_columns, "
                "or set 'attribute' in the workflow.",
                {},
            )
        return self.measure(
            "approvals.sandbox.evaluation:fairness",
            version,
            dataset,
            attribute=attribute,
            max_demographic_parity_difference=config.get("max_demographic_parity_difference", 0.1),
            max_equalized_odds_difference=config.get("max_equalized_odds_difference", 0.1),
        )


class SchemaCompatibility(DatasetCheck):
    """The model's input features against the evaluation dataset's columns and against the
    production version's features: a feature the dataset lacks, or one production used that the
    candidate dropped, fails; new features are listed."""

    type = "schema_compatibility"
    title = "Schema compatibility"

    def features(self, version) -> tuple[list[str] | None, CheckOutcome | None]:
        outcome = sandboxed(
            "approvals.sandbox.evaluation:input_features",
            version,
            {"artifact_name": os.path.basename(version.artifact.name)},
        )
        return (outcome.details.get("features"), None) if outcome.passed else (None, outcome)

    def run(self, version, config):
        from registry.selectors import production_version

        dataset = self.dataset(version, config)
        if dataset is None:
            return self.no_dataset(version, config)
        features, failed = self.features(version)
        if failed is not None:
            return failed
        if features is None:
            return CheckOutcome(
                False, "The model declares no input features (feature_names_in_ or a 'features' list).", {}
            )
        columns = {column["name"]: column["dtype"] for column in dataset.columns}
        details = {
            "features": features,
            "dataset": {"name": dataset.name, "sha256": dataset.sha256},
            "missing_in_dataset": [name for name in features if name not in columns],
            "dtypes": {name: columns[name] for name in features if name in columns},
        }
        production = production_version(model=version.model)
        if production is not None and production.pk != version.pk:
            baseline, failed = self.features(production)
            if failed is None and baseline is not None:
                details["production"] = production.number
                details["removed"] = [name for name in baseline if name not in features]
                details["added"] = [name for name in features if name not in baseline]
        problems = []
        if details["missing_in_dataset"]:
            problems.append(f"the dataset lacks {', '.join(details['missing_in_dataset'])}")
        if details.get("removed"):
            problems.append(f"v{details['production']} (production) used {', '.join(details['removed'])}, dropped here")
        if problems:
            return CheckOutcome(False, "Incompatible: " + "; ".join(problems) + ".", details)
        added = f"; new: {', '.join(details['added'])}" if details.get("added") else ""
        return CheckOutcome(True, f"All {len(features)} features are in {dataset.name}{added}.", details)
