"""Built-in checks: metric thresholds and artifact integrity."""

import hashlib
import math

from approvals.checks.base import Check, CheckOutcome, TransientCheckError


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class MetricThreshold(Check):
    """The version's reported metric lies within ``min`` / ``max``."""

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
            if not _is_number(config[key]):
                errors.append(f"'{key}' must be a number, not {config[key]!r}")
        unknown = set(config) - {"metric", "min", "max"}
        if unknown:
            errors.append(f"unknown keys: {', '.join(sorted(unknown))}")
        return errors

    @classmethod
    def describe(cls, config):
        parts = []
        if "min" in config:
            parts.append(f"≥ {config['min']}")
        if "max" in config:
            parts.append(f"≤ {config['max']}")
        return f"{config['metric']} {' and '.join(parts)}"

    def run(self, version, config):
        name = config["metric"]
        value = version.metrics.get(name)
        if value is None:
            return CheckOutcome(False, f"The version reports no metric '{name}'.", {"metric": name})
        failures = []
        if "min" in config and value < config["min"]:
            failures.append(f"{name} = {value:g} is below the minimum {config['min']:g}")
        if "max" in config and value > config["max"]:
            failures.append(f"{name} = {value:g} is above the maximum {config['max']:g}")
        details = {"metric": name, "value": value, "min": config.get("min"), "max": config.get("max")}
        if failures:
            return CheckOutcome(False, "; ".join(failures) + ".", details)
        return CheckOutcome(True, f"{name} = {value:g} is within {self.describe(config)}.", details)


class ArtifactIntegrity(Check):
    """The stored artifact's SHA-256, recomputed, equals the one recorded at upload."""

    type = "artifact_integrity"
    title = "Artifact integrity (SHA-256)"

    @classmethod
    def config_errors(cls, config):
        return [f"unknown keys: {', '.join(sorted(config))}"] if config else []

    def run(self, version, config):
        digest = hashlib.sha256()
        try:
            with version.artifact.open("rb") as artifact:
                for chunk in artifact.chunks():
                    digest.update(chunk)
        except FileNotFoundError:
            return CheckOutcome(
                False, "The artifact file is missing from storage.", {"expected": version.artifact_sha256}
            )
        except OSError as error:
            raise TransientCheckError(f"could not read the artifact: {error}") from error
        actual = digest.hexdigest()
        details = {"expected": version.artifact_sha256, "actual": actual}
        if actual != version.artifact_sha256:
            return CheckOutcome(False, "The stored artifact does not match the SHA-256 recorded at upload.", details)
        return CheckOutcome(True, "The stored artifact matches its recorded SHA-256.", details)
