"""MLflow's REST API, as much as Signoff needs: registered models and their versions, runs,
aliases and artifacts served by the tracking server (``mlflow-artifacts:``).

Credentials come from the environment, as MLflow's own client reads them
(``MLFLOW_TRACKING_TOKEN``, or ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``);
they are never stored. A connection error, a timeout, 429 or 5xx is ``MlflowUnavailable`` (worth
another try); any other refusal is ``MlflowError`` with MLflow's message.

What MLflow answers is read field by field (``listed_version``, ``Run``): a server that answers
something else (a list where an object belongs, a version number no integer holds, pages that
never end) is ``MlflowError`` saying what, never an exception that stops an import.
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from urllib.parse import quote

import requests
from django.core.exceptions import ValidationError

from config import outbound
from registry.validation import finite_number, text_problem

TIMEOUT = 30
MAX_DOWNLOAD = 1 << 40  # bounded again by SIGNOFF_MAX_ARTIFACT_BYTES by the caller
MAX_PAGES = 500  # of model-versions/search, 200 versions each: a listing that goes on is refused
MAX_VERSION_DIGITS = 9  # MLflow numbers a model's versions 1, 2, 3, …
MAX_RUN_ID = 64  # MlflowVersion.run_id


class MlflowError(Exception):
    """MLflow refused (or answered something Signoff cannot use); the message says what."""


class MlflowUnavailable(MlflowError):
    """MLflow could not be reached or answered 429 / 5xx: worth another try."""


def check_tracking_uri(uri: str) -> str:
    """An http(s) URL without credentials; link-local (cloud metadata) addresses are refused.
    Private and loopback addresses are allowed: tracking servers live there."""
    try:
        outbound.check_url(uri, allow_private=True)
    except ValidationError as error:
        raise ValidationError({"tracking_uri": error.messages}) from None
    return uri.rstrip("/")


class Mlflow:
    def __init__(self, tracking_uri: str, *, timeout: float = TIMEOUT):
        self.base = check_tracking_uri(tracking_uri)
        self.session = requests.Session()
        token = os.environ.get("MLFLOW_TRACKING_TOKEN", "")
        user, password = os.environ.get("MLFLOW_TRACKING_USERNAME", ""), os.environ.get("MLFLOW_TRACKING_PASSWORD", "")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        elif user:
            self.session.auth = (user, password)
        self.session.trust_env = False  # no proxies or netrc from the worker's environment
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            response = self.session.request(method, f"{self.base}/{path}", timeout=self.timeout,
                                            allow_redirects=False, **kwargs)  # fmt: skip
        except requests.RequestException as error:
            raise MlflowUnavailable(f"MLflow at {self.base} could not be reached: {type(error).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise MlflowUnavailable(f"MLflow at {self.base} answered HTTP {response.status_code}")
        if response.status_code >= 300:
            try:
                message = response.json().get("message", "")
            except ValueError:
                message = response.text[:300]
            raise MlflowError(f"MLflow answered HTTP {response.status_code}: {message}".strip())
        return response

    def _json(self, method: str, path: str, **kwargs) -> dict:
        response = self._call(method, f"api/2.0/mlflow/{path}", **kwargs)
        try:
            body = response.json() if response.content else {}
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's parser goes
            raise MlflowError(f"MLflow's answer to {path} is not JSON") from None
        if not isinstance(body, dict):
            raise MlflowError(f"MLflow's answer to {path} is not a JSON object")
        return body

    def versions(self, name: str) -> list:
        """Every entry of the registered model's versions as MLflow lists them, unread
        (``listed_version`` reads each); ``MlflowError`` when a page is not a list of them or the
        pages do not end."""
        found, token, tokens = [], None, set()
        escaped = name.replace("'", "\\'")
        for _ in range(MAX_PAGES):
            params = {"filter": f"name='{escaped}'", "max_results": 200}
            if token:
                params["page_token"] = token
            body = self._json("GET", "model-versions/search", params=params)
            page, token = body.get("model_versions", []), body.get("next_page_token") or None
            if not isinstance(page, list) or not isinstance(token, str | None):
                raise MlflowError("MLflow's list of versions is not in MLflow's format")
            found += page
            if token is None:
                return found
            if token in tokens:
                raise MlflowError("MLflow's list of versions does not end (it gave the same page token twice)")
            tokens.add(token)
        raise MlflowError(f"MLflow's list of versions does not end (more than {MAX_PAGES} pages)")

    def run(self, run_id: str) -> "Run":
        return Run.read(self._json("GET", "runs/get", params={"run_id": run_id}).get("run", {}))

    def download_uri(self, name: str, version: int) -> str:
        body = self._json("GET", "model-versions/get-download-uri", params={"name": name, "version": str(version)})
        uri = body.get("artifact_uri", "")
        if not isinstance(uri, str) or not uri:
            raise MlflowError("MLflow gave no artifact location for it")
        return uri

    def alias(self, name: str, alias: str) -> str | None:
        """The version number the alias points to, or None when it is not set."""
        try:
            body = self._json("GET", "registered-models/alias", params={"name": name, "alias": alias})
        except MlflowUnavailable:
            raise
        except MlflowError as error:
            if "not found" in str(error).lower():
                return None
            raise
        found = body.get("model_version")
        if not isinstance(found, dict):
            raise MlflowError(f"MLflow's answer about the alias '{alias}' names no version")
        return str(version_number(found.get("version")))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._json("POST", "registered-models/alias", json={"name": name, "alias": alias, "version": str(version)})

    def point_alias(self, name: str, alias: str, version: str | None) -> None:
        """Point ``alias`` at ``version``, or remove it when there is none to point at."""
        if version is None:
            self.delete_alias(name, alias)
        else:
            self.set_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        self._json("DELETE", "registered-models/alias", json={"name": name, "alias": alias})

    def artifact_text(self, uri: str, limit: int = 1 << 20) -> str:
        response = self._call("GET", self._artifact_path(uri), stream=True)
        data = response.raw.read(limit + 1, decode_content=True)
        if len(data) > limit:
            raise MlflowError(f"{uri} is larger than {limit} bytes")
        return data.decode("utf-8", "replace")

    def artifact_download(self, uri: str, limit: int):
        """The artifact's bytes in a temporary file (rewound) and their SHA-256; at most ``limit`` bytes."""
        response = self._call("GET", self._artifact_path(uri), stream=True)
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        digest, size = hashlib.sha256(), 0
        for chunk in response.iter_content(1 << 16):
            size += len(chunk)
            if size > limit:
                spool.close()
                raise MlflowError(f"{uri} is larger than the {limit} bytes Signoff accepts")
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        return spool, digest.hexdigest(), size

    @staticmethod
    def _artifact_path(uri: str) -> str:
        """Only artifacts the tracking server serves (``mlflow-artifacts:/…``): a ``file:`` or
        cloud URI would make Signoff read its own disk or someone else's bucket."""
        if not uri.startswith("mlflow-artifacts:"):
            raise MlflowError(
                f"Signoff imports artifacts the MLflow server serves (mlflow-artifacts:), not {uri[:200]!r}; "
                "start the server with --serve-artifacts (the default)."
            )
        path = uri.removeprefix("mlflow-artifacts:").lstrip("/")
        parts = path.split("/")
        if not path or any(part in ("", ".", "..") for part in parts) or any(ord(c) < 32 for c in path):
            raise MlflowError(f"{uri[:200]!r} is not an artifact path Signoff follows")
        return "api/2.0/mlflow-artifacts/artifacts/" + quote(path)


def version_number(value) -> int:
    """A version number as MLflow writes it (a string of digits, or an integer), checked."""
    text = value if isinstance(value, str) else str(value) if type(value) is int else ""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_VERSION_DIGITS or int(text) < 1:
        raise MlflowError(f"MLflow gave a version number Signoff cannot read: {_shown(value)}")
    return int(text)


def _shown(value) -> str:
    """``value`` as the reason quotes it: short, and a JSON type where it is not text or a number."""
    if not isinstance(value, str | int | float):
        return f"a JSON {type(value).__name__}"
    shown = repr(value)
    return shown if len(shown) <= 60 else f"{shown[:59]}…"


def _text(value, limit: int) -> str:
    """A string field MLflow may leave out (or null): anything else is not MLflow's format, nor
    is text that cannot be stored (a NUL, a lone surrogate)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MlflowError(f"MLflow gave {_shown(value)} where it writes text")
    problem = text_problem(value)
    if problem:  # PostgreSQL stores neither
        raise MlflowError(f"MLflow gave text that {problem}")
    return value[:limit]


def _run_id(value) -> str:
    """MLflow's run ids are 32 hexadecimal digits; Signoff keeps up to 64 printable characters."""
    text = _text(value, MAX_RUN_ID + 1)
    if len(text) > MAX_RUN_ID or not text.isprintable():
        raise MlflowError(f"MLflow gave a run id Signoff cannot read: {_shown(value)}")
    return text


@dataclass(frozen=True)
class ListedVersion:
    """One entry of MLflow's list of a registered model's versions, read."""

    number: int
    status: str
    run_id: str
    source: str
    description: str


def listed_version(entry) -> ListedVersion:
    """``entry`` of ``Mlflow.versions``, field by field; ``MlflowError`` saying what is wrong."""
    if not isinstance(entry, dict):
        raise MlflowError(f"MLflow listed a version that is not an object: {_shown(entry)}")
    return ListedVersion(
        number=version_number(entry.get("version")),
        status=_text(entry.get("status", "READY"), 50),  # only a READY version is imported
        run_id=_run_id(entry.get("run_id")),
        source=_text(entry.get("source"), 2000),
        description=_text(entry.get("description"), 5000),
    )


@dataclass(frozen=True)
class Run:
    """What Signoff reads of an MLflow run: who ran it, its numeric metrics, params and tags."""

    user_id: str = ""
    metrics: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)

    @classmethod
    def read(cls, run) -> "Run":
        if not isinstance(run, dict) or not isinstance(run.get("info") or {}, dict):
            raise MlflowError("MLflow's answer about its run is not in MLflow's format")
        data = run.get("data") or {}
        if not isinstance(data, dict):
            raise MlflowError("MLflow's answer about its run is not in MLflow's format")
        metrics = {key: value for key, value in _pairs(data, "metrics", 100) if finite_number(value)}
        return cls(
            user_id=_text((run.get("info") or {}).get("user_id"), 150),
            metrics=metrics,
            params={key: _text(value, 500) for key, value in _pairs(data, "params", 100)},
            tags={key: _text(value, 500) for key, value in _pairs(data, "tags", 250)},
        )


def _pairs(data: dict, name: str, key_limit: int) -> list[tuple[str, object]]:
    """The run's ``name`` (a list of {"key", "value"} objects) as (key, value) pairs."""
    entries = data.get(name) or []
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise MlflowError(f"the {name} of its run are not in MLflow's format")
    return [(_text(entry.get("key"), key_limit), entry.get("value")) for entry in entries]
