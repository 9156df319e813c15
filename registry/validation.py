"""Validation of the free-form parts of a model version: metrics, parameters, lineage, artifact names.

Everything a client sends as JSON passes ``parse_json`` (text) or ``validate_json_value``
(already parsed): bounded depth and size, no NUL or lone surrogate in any string (PostgreSQL
cannot store them), and only finite numbers a float can hold. A refusal names the problem.
"""

import json
import math
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_METRICS = 200
MAX_NAME_LENGTH = 100
MAX_JSON_DEPTH = 20
MAX_JSON_BYTES = 256 * 1024
MAX_JSON_ITEMS = 5000
# Integers longer than this are refused before Python converts them (10**400 has 401 digits).
MAX_INTEGER_DIGITS = 30
FLOAT_LIMIT = 1.7e308


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is, or None."""
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii() and any("\ud800" <= char <= "\udfff" for char in text):
        return "contains a lone surrogate (invalid Unicode)"
    return None


def clean_text(value, *, field: str, limit: int, required: str = "") -> str:
    """Free text a person typed (a comment, a reason), stripped; a ValidationError on ``field``
    when it is longer than ``limit``, holds what cannot be stored, or is empty and ``required``
    (the message then says what to write)."""
    value = value.strip() if isinstance(value, str) else ""
    if required and not value:
        raise ValidationError({field: required})
    if len(value) > limit:
        raise ValidationError({field: f"Keep it under {limit:,} characters."})
    problem = text_problem(value)
    if problem:
        raise ValidationError({field: f"The text {problem}."})
    return value


def finite_number(value) -> bool:
    """An int or a float, not a bool, that a float holds finitely (an int of 400 digits does not:
    ``float()`` of it overflows, so it is refused here rather than raising where it is used)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _refuse_constant(name):
    raise ValidationError(f"{name} is not a number JSON allows; send a finite number.")


def _bounded_int(text: str):
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValidationError(f"The number {text[:20]}… is out of range.")
    return int(text)


def _finite_float(text: str):
    number = float(text)
    if not math.isfinite(number):
        raise ValidationError(f"The number {text[:20]} is out of range.")
    return number


def parse_json(text, *, what: str = "The JSON"):
    """Parse JSON text from a client, refusing what Signoff could not store or would choke on."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"{what} is not UTF-8 text.") from None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_JSON_BYTES:
        raise ValidationError(f"{what} is larger than {MAX_JSON_BYTES // 1024} KB.")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite_float)
    except RecursionError:
        raise ValidationError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep.") from None
    except ValueError as error:
        raise ValidationError(f"{what} is not valid JSON: {error}.") from None
    return validate_json_value(value, what=what)


def validate_json_value(value, *, what: str = "The JSON"):
    """Check an already parsed JSON value (iteratively: no recursion on hostile input); returns it."""
    stack = [(value, 1)]
    items = 0
    while stack:
        current, depth = stack.pop()
        items += 1
        if depth > MAX_JSON_DEPTH:
            raise ValidationError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep.")
        if items > MAX_JSON_ITEMS:
            raise ValidationError(f"{what} has more than {MAX_JSON_ITEMS} values.")
        if isinstance(current, str):
            problem = text_problem(current)
            if problem:
                raise ValidationError(f"{what} has a text value that {problem}.")
        elif isinstance(current, bool) or current is None:
            continue
        elif isinstance(current, int):
            if abs(current) > 10**MAX_INTEGER_DIGITS:
                raise ValidationError(f"{what} has a number that is out of range.")
        elif isinstance(current, float):
            if not math.isfinite(current):
                raise ValidationError(f"{what} has a number that is not finite.")
        elif isinstance(current, dict):
            for key, item in current.items():
                if not isinstance(key, str):
                    raise ValidationError(f"{what} has a key that is not text.")
                problem = text_problem(key)
                if problem:
                    raise ValidationError(f"{what} has a key that {problem}.")
                stack.append((item, depth + 1))
        elif isinstance(current, list | tuple):
            stack.extend((item, depth + 1) for item in current)
        else:
            raise ValidationError(f"{what} holds a value of an unsupported type.")
    return value


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
        if text_problem(name):
            raise ValidationError(f"A metric name {text_problem(name)}.")
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValidationError(f"Metric {name!r} must be a number, not {str(number)[:50]!r}.")
        try:
            as_float = float(number)
        except OverflowError:
            raise ValidationError(f"Metric {name!r} is out of range.") from None
        if not math.isfinite(as_float) or abs(as_float) > FLOAT_LIMIT:
            raise ValidationError(f"Metric {name!r} must be a finite number.")
        cleaned[name] = as_float
    return cleaned


def validate_params(value) -> dict:
    """Hyperparameters: a JSON object with string keys, bounded and storable."""
    if not isinstance(value, dict):
        raise ValidationError("Params must be a JSON object.")
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"Parameter name {str(name)[:50]!r} must be a non-empty string.")
    return validate_json_value(value, what="Params")


def validate_text(value: str, *, what: str) -> str:
    """A free-text field: storable (no NUL, no lone surrogate)."""
    problem = text_problem(value or "")
    if problem:
        raise ValidationError(f"{what} {problem}.")
    return value


def validate_artifact(file) -> None:
    """The uploaded artifact: a plain, printable file name (no path) within the size limit.

    ``client_name`` (set by ``registry.uploads``) is the name as the client sent it, before
    Django stripped any directories or characters from it.
    """
    name = getattr(file, "client_name", None) or file.name or ""
    if not name or "/" in name or "\\" in name or "\x00" in name:
        raise ValidationError(f"The artifact's file name {name[:100]!r} must be a plain name, without a path.")
    if name.strip(" .") == "" or name != name.strip():
        raise ValidationError(f"The artifact's file name {name[:100]!r} must not be blank or start or end with spaces.")
    if text_problem(name) or any(unicodedata.category(char).startswith("C") for char in name):
        raise ValidationError("The artifact's file name must not contain control or invalid characters.")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"The artifact's file name must be at most {MAX_NAME_LENGTH} characters.")
    limit = settings.SIGNOFF_MAX_ARTIFACT_BYTES
    if file.size > limit:
        raise ValidationError(f"The artifact is {file.size} bytes; the limit is {limit} bytes.")
    if file.size == 0:
        raise ValidationError("The artifact is empty.")


def validate_model_artifact(file) -> None:
    """``validate_artifact``, and a file one of Signoff's loaders can read."""
    validate_artifact(file)
    problem = unreadable_format(file, getattr(file, "client_name", None) or file.name or "")
    if problem:
        raise ValidationError(problem)


# What Signoff's loaders read (evidence.sandbox): a pickle or joblib file, plain or compressed; a
# skops file; an ONNX graph. Recognised by their first bytes and, for a zip, its table of
# contents: nothing is loaded or run here.
PICKLE_PROTOCOLS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
PICKLE_FIRST_OPCODES = frozenset(b"(c]})NIJKLMFGSTUVXPBC")  # what a protocol 0 or 1 pickle may start with
COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x5d\x00\x00")  # gzip, bz2, xz, lzma (joblib)
READABLE = "a scikit-learn model saved with joblib or pickle, a skops file or an ONNX graph"


def unreadable_format(file, name: str) -> str:
    """Why no loader of Signoff's could read ``file`` ("" when one could), from its first bytes."""
    position = file.tell() if hasattr(file, "tell") else 0
    file.seek(0)
    head = file.read(8)
    file.seek(position)
    if head.startswith(b"PK\x03\x04"):  # before the pickle opcodes: "P" is one
        import zipfile

        try:
            file.seek(0)
            listed = zipfile.ZipFile(file).namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            listed = []
        finally:
            file.seek(position)
        if "schema.json" in listed:
            return ""
        return f"The artifact is a zip archive but not a skops file (it has no schema.json). Upload {READABLE}."
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "The artifact is compressed with lz4, which Signoff does not read; save it uncompressed or with zlib."
    zlib_header = head[:1] == b"\x78" and head[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda")
    if head[:2] in PICKLE_PROTOCOLS or (head and head[0] in PICKLE_FIRST_OPCODES):
        return ""
    if head.startswith(COMPRESSED) or zlib_header or head[:1] == b"\x08" or name.lower().endswith(".onnx"):
        return ""
    return f"No loader of Signoff's reads this file (it starts with {head[:8]!r}). Upload {READABLE}."
