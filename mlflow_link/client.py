"""MLflow's REST API, as much as Signoff needs: registered models and their versions, runs,
aliases and artifacts served by the tracking server (``mlflow-artifacts:``).

Credentials come from the environment, as MLflow's own client reads them
(``MLFLOW_TRACKING_TOKEN``, or ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``);
they are never stored. A connection error, a timeout, 429 or 5xx is ``MlflowUnavailable`` (worth
another try); any other refusal is ``MlflowError`` with MLflow's message.
"""

import hashlib
import os
import tempfile
from urllib.parse import quote

import requests
from django.core.exceptions import ValidationError

from config import outbound

TIMEOUT = 30
MAX_DOWNLOAD = 1 << 40  # bounded again by SIGNOFF_MAX_ARTIFACT_BYTES by the caller


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
        except ValueError:
            raise MlflowError(f"MLflow's answer to {path} is not JSON") from None
        if not isinstance(body, dict):
            raise MlflowError(f"MLflow's answer to {path} is not a JSON object")
        return body

    def registered_model(self, name: str) -> dict:
        return self._json("GET", "registered-models/get", params={"name": name}).get("registered_model", {})

    def versions(self, name: str) -> list[dict]:
        """Every version of the registered model, oldest first."""
        found, token = [], None
        escaped = name.replace("'", "\\'")
        while True:
            params = {"filter": f"name='{escaped}'", "max_results": 200}
            if token:
                params["page_token"] = token
            body = self._json("GET", "model-versions/search", params=params)
            found += body.get("model_versions", [])
            token = body.get("next_page_token")
            if not token:
                break
        return sorted(found, key=lambda v: int(v["version"]))

    def run(self, run_id: str) -> dict:
        return self._json("GET", "runs/get", params={"run_id": run_id}).get("run", {})

    def download_uri(self, name: str, version: str) -> str:
        body = self._json("GET", "model-versions/get-download-uri", params={"name": name, "version": version})
        return body.get("artifact_uri", "")

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
        return str(body.get("model_version", {}).get("version")) or None

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
