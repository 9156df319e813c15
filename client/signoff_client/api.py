"""A small client of Signoff's REST API (``/api/``): token from ``SIGNOFF_TOKEN``, address from
``SIGNOFF_URL``. Every refusal raises ``SignoffError`` with the server's message."""

import json
import os
from pathlib import Path

import requests


class SignoffError(Exception):
    """The server refused or could not be reached; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return json.dumps(body)[:1000]


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 60):
        self.url = (url or os.environ.get("SIGNOFF_URL", "")).rstrip("/")
        token = token or os.environ.get("SIGNOFF_TOKEN", "")
        if not self.url:
            raise SignoffError("Set SIGNOFF_URL to Signoff's address, e.g. https://signoff.example.com.")
        if not token:
            raise SignoffError("Set SIGNOFF_TOKEN to an API token (Profile → API tokens).")
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs):
        try:
            response = self.session.request(method, f"{self.url}/api/{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            raise SignoffError(f"{self.url} could not be reached: {error}") from None
        if response.status_code >= 400:
            raise SignoffError(_message(response), response.status_code)
        return response.json() if response.content else None

    def register(self, model: str, artifact: Path, *, metrics: dict, params=None, lineage=None, description=""):
        fields = {
            "metrics": json.dumps(metrics),
            "params": json.dumps(params or {}),
            "lineage": json.dumps(lineage or {}),
            "description": description,
        }
        with Path(artifact).open("rb") as file:
            return self._call("POST", f"models/{model}/versions/", data=fields, files={"artifact": file})

    def submit(self, model: str, version: int) -> dict:
        return self._call("POST", f"models/{model}/versions/{version}/submit/")

    def version(self, model: str, version: int) -> dict:
        return self._call("GET", f"models/{model}/versions/{version}/")

    def request(self, request_id: int) -> dict:
        return self._call("GET", f"requests/{request_id}/")

    def dataset_add(self, model: str, file: Path, *, name: str, target: str, sensitive=(), description=""):
        fields = {"name": name, "target_column": target, "sensitive_columns": json.dumps(list(sensitive)),
                  "description": description}  # fmt: skip
        with Path(file).open("rb") as handle:
            return self._call("POST", f"models/{model}/datasets/", data=fields, files={"file": handle})

    def dataset(self, model: str, name: str) -> dict:
        return self._call("GET", f"models/{model}/datasets/{name}/")

    def attestation(self, model: str, version: int) -> dict:
        return self._call("GET", f"models/{model}/versions/{version}/attestation/")

    def public_key(self) -> bytes:
        try:
            response = self.session.get(f"{self.url}/attestations/public-key.pem", timeout=self.timeout)
        except requests.RequestException as error:
            raise SignoffError(f"{self.url} could not be reached: {error}") from None
        if response.status_code != 200:
            raise SignoffError(_message(response), response.status_code)
        return response.content
