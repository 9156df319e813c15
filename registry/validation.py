"""Validation of the free-form parts of a model version: metrics, parameters, artifact names."""

import math

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_METRICS = 200
MAX_NAME_LENGTH = 100


def validate_metrics(value) -> dict[str, float]:
    """A mapping of metric name to a finite number; returns it with floats."""
    if not isinstance(value, dict):
        raise ValidationError("Metrics must be a JSON object mapping names to numbers.")
    if len(value) > MAX_METRICS:
        raise ValidationError(f"At most {MAX_METRICS} metrics are accepted.")
    cleaned = {}
    for name, number in value.items():
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
            raise ValidationError(
                f"Metric name {name!r} must be a non-empty string of at most {MAX_NAME_LENGTH} characters."
            )
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValidationError(f"Metric {name!r} must be a number, not {number!r}.")
        if not math.isfinite(number):
            raise ValidationError(f"Metric {name!r} must be a finite number, not {number!r}.")
        cleaned[name] = float(number)
    return cleaned


def validate_params(value) -> dict:
    """Hyperparameters: a JSON object with string keys."""
    if not isinstance(value, dict):
        raise ValidationError("Params must be a JSON object.")
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"Parameter name {name!r} must be a non-empty string.")
    return value


def validate_artifact(file) -> None:
    """The uploaded artifact: a plain file name (no path) and within the size limit.

    ``client_name`` (set by the API's multipart parser) is the name as the client sent it,
    before Django stripped any directories from it.
    """
    name = getattr(file, "client_name", None) or file.name or ""
    if not name or "/" in name or "\\" in name or name in {".", ".."} or "\x00" in name:
        raise ValidationError(f"The artifact's file name {name!r} must be a plain name, without a path.")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"The artifact's file name must be at most {MAX_NAME_LENGTH} characters.")
    limit = settings.SIGNOFF_MAX_ARTIFACT_BYTES
    if file.size > limit:
        raise ValidationError(f"The artifact is {file.size} bytes; the limit is {limit} bytes.")
    if file.size == 0:
        raise ValidationError("The artifact is empty.")
