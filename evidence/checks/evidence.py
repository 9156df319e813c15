"""Checks that open the artifact: they run in the sandbox (``evidence.sandbox``), never here."""

import os

from evidence.checks.base import Check, CheckOutcome, is_text_list, unknown_keys
from evidence.measurements import dataset_payload, measurement_for, sandboxed
from evidence.models import Measurement
from registry.validation import finite_number


class PickleScan(Check):
    """Pickle-based artifacts name only allow-listed globals (no os.system, eval, getattr, …)."""

    type = "pickle_scan"
    title = "Pickle scan (no code runs on load)"

    @classmethod
    def config_errors(cls, config):
        errors = []
        allow = config.get("allow", [])
        if not is_text_list(allow):
            errors.append("'allow' must be a list of module prefixes, e.g. allow: [lightgbm.]")
        return errors + unknown_keys(config, {"allow"})

    def run(self, given, config):
        payload = {"file_name": os.path.basename(given.version.artifact.name), "allow": config.get("allow", [])}
        return sandboxed("evidence.sandbox.tasks:pickle_scan", given.version, payload)


def dataset_errors(config: dict) -> list[str]:
    """Problems with the keys that choose a check's dataset: ``dataset`` (a name) and
    ``dataset_sha256`` (the bytes it must be)."""
    errors = []
    if "dataset" in config and (not isinstance(config["dataset"], str) or not config["dataset"].strip()):
        errors.append("'dataset' must name one of the model's evaluation datasets")
    pinned = config.get("dataset_sha256")
    if "dataset_sha256" in config and not (
        isinstance(pinned, str) and len(pinned) == 64 and all(c in "0123456789abcdef" for c in pinned)
    ):
        errors.append("'dataset_sha256' must be the 64 lower-case hex digits of the dataset's SHA-256")
    return errors


class DatasetCheck(Check):
    """A check that measures the version on one of its model's evaluation datasets (``dataset:``
    names it; the latest otherwise)."""

    options: dict = {}  # further config keys → a validator returning an error or None

    @classmethod
    def config_errors(cls, config):
        errors = dataset_errors(config)
        for key, validate in cls.options.items():
            if key in config and (problem := validate(config[key])):
                errors.append(f"'{key}' {problem}, not {config[key]!r}")
        return errors + unknown_keys(config, {"dataset", "dataset_sha256", *cls.options})

    @staticmethod
    def dataset(given, config):
        """The evidence: the dataset ``dataset:`` names, else the one fixed for the run (the
        request's, chosen when it was submitted). A failed outcome instead when the dataset is not
        one the author may be judged on: registered by an author of the work, or not the bytes
        ``dataset_sha256:`` pins."""
        dataset = given.dataset_named(config["dataset"]) if "dataset" in config else given.dataset
        if dataset is None:
            return None
        pinned = config.get("dataset_sha256")
        if pinned and dataset.sha256 != pinned:
            return CheckOutcome(
                False,
                f"The dataset {dataset.name} is not the one the workflow pins (SHA-256 {pinned[:12]}…); "
                "it was not used.",
                {"dataset": dataset_reference(dataset)},
            )
        if dataset.registered_by in given.author_ids:
            return CheckOutcome(
                False,
                f"The dataset {dataset.name} was registered by an author of this version; evidence must come "
                "from someone else (register it as another person, or have the workflow pin one).",
                {"dataset": dataset_reference(dataset)},
            )
        return dataset

    def dataset_or_outcome(self, given, config):
        """``dataset``, or the failed outcome saying why there is none to measure on."""
        dataset = self.dataset(given, config)
        return self.no_dataset(given, config) if dataset is None else dataset

    @staticmethod
    def no_dataset(given, config) -> CheckOutcome:
        missing = f"evaluation dataset called {config['dataset']!r}" if "dataset" in config else "evaluation dataset"
        return CheckOutcome(
            False,
            f"{given.model_name} has no {missing}; register one on the model page or with "
            f"POST /api/models/{given.model_name}/datasets/ (multipart: file, name, target_column).",
            {},
        )

    @staticmethod
    def measure(task: str, version, dataset, **payload) -> CheckOutcome:
        outcome = sandboxed(task, version, dataset_payload(version, dataset, **payload), dataset=dataset)
        outcome.details["dataset"] = dataset_reference(dataset)
        return outcome


def dataset_reference(dataset) -> dict:
    return {"name": dataset.name, "sha256": dataset.sha256, "rows": dataset.row_count}


def _fraction(value) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    return None if ok else "must be a number between 0 and 1"


def _names(value) -> str | None:
    return None if value and is_text_list(value) else "must be a list of metric names, e.g. [accuracy, roc_auc]"


def _column(value) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must name a column"


def claims_outcome(measured: dict, reported: dict, tolerance: float, rows: int) -> CheckOutcome:
    """Reported metrics against measured ones: fails when any differs by more than ``tolerance``."""
    differences = {
        name: {"reported": reported[name], "measured": value, "difference": round(value - reported[name], 6)}
        for name, value in measured.items()
        if isinstance(reported.get(name), int | float) and not isinstance(reported.get(name), bool)
    }
    off = {name: d for name, d in differences.items() if abs(d["difference"]) > tolerance}
    details = {"tolerance": tolerance, "compared": differences}
    if off:
        claims = "; ".join(f"{n} reported {d['reported']:g}, measured {d['measured']:g}" for n, d in off.items())
        return CheckOutcome(False, f"Reported metrics differ from measured beyond ±{tolerance:g}: {claims}.", details)
    shown = ", ".join(f"{n} {v:.3f}" for n, v in list(measured.items())[:4])
    agree = "; reported values agree" if differences else "; the author reported none of them"
    return CheckOutcome(True, f"Measured on {rows:,} rows: {shown}{agree}.", details)


class Reevaluate(DatasetCheck):
    """Signoff measures the version itself on the model's evaluation dataset, in the sandbox,
    and fails when the author's reported metrics differ from the measured ones."""

    type = "reevaluate"
    title = "Re-evaluation on the hold-out dataset"
    options = {"tolerance": _fraction, "metrics": _names}

    def run(self, given, config):
        version = given.version
        dataset = self.dataset_or_outcome(given, config)
        if isinstance(dataset, CheckOutcome):
            return dataset
        measurement = measurement_for(version, dataset)
        if isinstance(measurement, CheckOutcome):
            return measurement
        compared = config.get("metrics")
        reported = {name: value for name, value in version.metrics.items() if compared is None or name in compared}
        outcome = claims_outcome(
            measurement.metrics, reported, config.get("tolerance", 0.02), measurement.details.get("rows", 0)
        )
        outcome.details.update(measurement.details)
        outcome.details.update(metrics=measurement.metrics, task=measurement.task, dataset=dataset_reference(dataset))
        return outcome


def _metric(value) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must name a metric, e.g. roc_auc"


def _drop(value) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1e6
    return None if ok else "must be a number ≥ 0"


class RegressionVsProduction(DatasetCheck):
    """The candidate and the production version measured on the same dataset in one sandbox;
    fails when ``metric`` is worse than production's by more than ``max_drop`` (direction-aware:
    for log loss or RMSE a rise is the drop). Records the share of predictions that changed."""

    type = "regression_vs_production"
    title = "No regression against production"
    options = {"metric": _metric, "max_drop": _drop}

    @classmethod
    def config_errors(cls, config):
        errors = super().config_errors(config)
        if "metric" not in config:
            errors.insert(0, "'metric' must name the metric to compare, e.g. metric: roc_auc")
        return errors

    @classmethod
    def describe(cls, config):
        return f"{config.get('metric')} no worse than production by more than {config.get('max_drop', 0.02):g}"

    def run(self, given, config):
        from evidence.comparison import LOWER_IS_BETTER

        version, production = given.version, given.production
        if production is None:
            return CheckOutcome(True, f"{given.model_name} has no other version in production; nothing to compare.", {})
        dataset = self.dataset_or_outcome(given, config)
        if isinstance(dataset, CheckOutcome):
            return dataset
        payload = dataset_payload(version, dataset, baseline_name=os.path.basename(production.artifact.name))
        outcome = sandboxed(
            "evidence.sandbox.evaluation:compare_to_baseline", version, payload, dataset=dataset, baseline=production
        )
        if not outcome.passed:
            return outcome
        metric, max_drop = config["metric"], config.get("max_drop", 0.02)
        candidate, baseline = outcome.details["candidate"].get(metric), outcome.details["production"].get(metric)
        details = {**outcome.details, "metric": metric, "max_drop": max_drop, "production_version": production.number,
                   "dataset": dataset_reference(dataset)}  # fmt: skip
        if candidate is None or baseline is None:
            unmeasured = f"{metric} was not measured for both versions (not a metric of this task)."
            return CheckOutcome(False, unmeasured, details)
        drop = (candidate - baseline) if metric in LOWER_IS_BETTER else (baseline - candidate)
        details["drop"] = round(drop, 6)
        changed = f"{details['changed_share']:.1%} of predictions changed"
        versus = f"{metric} {candidate:.4f} vs {baseline:.4f} in production v{production.number}"
        if drop > max_drop:
            worse = f"Worse than production: {versus} (allowed drop {max_drop:g}); {changed}."
            return CheckOutcome(False, worse, details)
        return CheckOutcome(True, f"{versus}; {changed}.", details)


def fairness_outcome(attribute: str, table: dict, limits: dict) -> CheckOutcome:
    """The group table over ``attribute`` against the limits on its two differences."""
    names = ("demographic_parity_difference", "equalized_odds_difference")
    over = [f"{name.replace('_', ' ')} {table[name]:.3f} > {limits[name]:g}" for name in names
            if table[name] > limits[name]]  # fmt: skip
    details = {"attribute": attribute, **table, "limits": limits}
    if over:
        return CheckOutcome(False, f"Across {attribute}: {'; '.join(over)}.", details)
    shown = ", ".join(f"{name.replace('_', ' ')} {table[name]:.3f}" for name in names)
    return CheckOutcome(True, f"Across {attribute} ({len(table['groups'])} groups): {shown}.", details)


class Fairness(DatasetCheck):
    """Per-group metrics over a sensitive attribute (fairlearn); fails when the demographic-parity
    or equalized-odds difference exceeds its limit (0.1 unless configured). The dataset's
    sensitive columns are covered by the version's measurement; another ``attribute`` is
    measured on its own."""

    type = "fairness"
    title = "Fairness across groups"
    options = {
        "attribute": _column,
        "max_demographic_parity_difference": _fraction,
        "max_equalized_odds_difference": _fraction,
    }

    def run(self, given, config):
        version = given.version
        dataset = self.dataset_or_outcome(given, config)
        if isinstance(dataset, CheckOutcome):
            return dataset
        attribute = config.get("attribute") or next(iter(dataset.sensitive_columns), None)
        if attribute is None:
            return CheckOutcome(
                False,
                f"The dataset {dataset.name} names no sensitive column; register one with sensitive_columns, "
                "or set 'attribute' in the workflow.",
                {},
            )
        limits = {name: config.get(f"max_{name}", 0.1)
                  for name in ("demographic_parity_difference", "equalized_odds_difference")}  # fmt: skip
        if attribute in dataset.sensitive_columns:
            measurement = measurement_for(version, dataset)
            if isinstance(measurement, CheckOutcome):
                return measurement
            table = measurement.details.get("fairness", {}).get(attribute)
            if table is None:
                return CheckOutcome(False, "The fairness check applies to classifiers; this model is a regressor.", {})
        else:
            outcome = self.measure("evidence.sandbox.evaluation:fairness", version, dataset, attribute=attribute)
            if not outcome.passed:
                return outcome
            table = {key: outcome.details[key] for key in ("groups", *limits)}
        outcome = fairness_outcome(attribute, table, limits)
        outcome.details["dataset"] = dataset_reference(dataset)
        return outcome


class SchemaCompatibility(DatasetCheck):
    """The model's input features against the evaluation dataset's columns and against the
    production version's features: a feature the dataset lacks, or one production used that the
    candidate dropped, fails; new features are listed."""

    type = "schema_compatibility"
    title = "Schema compatibility"

    @staticmethod
    def features(version, dataset) -> tuple[list[str] | None, CheckOutcome | None]:
        """The features ``version`` reads: from its measurement on ``dataset`` when it has one
        (or can be measured), else read from the artifact alone."""
        measurement = Measurement.objects.filter(version_id=version.id, dataset_id=dataset.id).first()
        if measurement is not None:
            return measurement.details.get("features"), None
        outcome = sandboxed(
            "evidence.sandbox.evaluation:input_features",
            version,
            {"artifact_name": os.path.basename(version.artifact.name)},
        )
        return (outcome.details.get("features"), None) if outcome.passed else (None, outcome)

    def run(self, given, config):
        version = given.version
        dataset = self.dataset_or_outcome(given, config)
        if isinstance(dataset, CheckOutcome):
            return dataset
        features, failed = self.features(version, dataset)
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
        production = given.production
        if production is not None:
            baseline, failed = self.features(production, dataset)
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


class MetricThreshold(DatasetCheck):
    """The version's metric lies within ``min`` / ``max``: the metric Signoff measured on the
    model's evaluation dataset (``source: measured``, the default when the model has one) or
    the one the author reported (``source: reported``)."""

    type = "metric_threshold"
    title = "Metric threshold"

    @classmethod
    def config_errors(cls, config):
        errors = []
        metric = config.get("metric")
        if not isinstance(metric, str) or not metric.strip():
            errors.append("'metric' must name a metric, e.g. metric: accuracy")
        bounds = [key for key in ("min", "max") if key in config]
        if not bounds:
            errors.append("give 'min' and/or 'max', e.g. min: 0.8")
        for key in bounds:
            if not finite_number(config[key]):
                errors.append(f"'{key}' must be a number, not {config[key]!r}")
        if "source" in config and config["source"] not in ("measured", "reported"):
            errors.append(f"'source' must be measured or reported, not {config['source']!r}")
        errors += dataset_errors(config)
        return errors + unknown_keys(config, {"metric", "min", "max", "source", "dataset", "dataset_sha256"})

    @classmethod
    def describe(cls, config):
        parts = []
        if "min" in config:
            parts.append(f"≥ {config['min']}")
        if "max" in config:
            parts.append(f"≤ {config['max']}")
        return f"{config['metric']} {' and '.join(parts)}"

    def run(self, given, config):
        version, name = given.version, config["metric"]
        dataset = self.dataset(given, config)
        if isinstance(dataset, CheckOutcome):
            return dataset
        source = config.get("source") or ("measured" if dataset is not None else "reported")
        if source == "reported":
            value, where = version.metrics.get(name), "reported"
        else:
            if dataset is None:
                return self.no_dataset(given, config)
            measurement = measurement_for(version, dataset)
            if isinstance(measurement, CheckOutcome):
                return measurement
            value, where = measurement.metrics.get(name), f"measured on {dataset.name}"
        details = {"metric": name, "value": value, "source": source, "min": config.get("min"), "max": config.get("max")}
        if not finite_number(value):
            missing = "reports" if source == "reported" else f"was measured with (on {dataset.name})"
            return CheckOutcome(False, f"No metric '{name}' the version {missing}.", details)
        failures = []
        if "min" in config and value < config["min"]:
            failures.append(f"{name} = {value:g} is below the minimum {config['min']:g} ({where})")
        if "max" in config and value > config["max"]:
            failures.append(f"{name} = {value:g} is above the maximum {config['max']:g} ({where})")
        if failures:
            return CheckOutcome(False, "; ".join(failures) + ".", details)
        return CheckOutcome(True, f"{name} = {value:g} is within {self.describe(config)} ({where}).", details)
