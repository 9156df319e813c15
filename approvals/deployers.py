"""Deployers: what a deployment step does once the IT engineer gives the go-ahead (the worker
runs it, ``services.step_execute``). A workflow's deployment step names one:

    deployer: none                                   # Signoff's stage only (the default)
    deployer: {type: webhook, url: https://deploy.example.com/hook, secret_env: DEPLOY_HOOK_SECRET}
    deployer: {type: command, argv: [/usr/local/bin/deploy-model, --env, prod], timeout: 120}

Each is a class with one entry point, ``deploy(target) -> Deployed`` (its log, shown on the request
page). A failure worth another try raises ``TransientError`` (the job runner retries with
backoff); any other failure raises ``DeployError`` and the step ends in "deployment failed",
waiting for the IT engineer to deploy again. Both deployers send the signed approval
(``approvals.attestations``): the webhook in its body, the command on its standard input.

A deployment may run twice (a worker killed after the deployer and before the stage was
recorded): a webhook receiver sees the same ``webhook-id``, a command the same attestation.
"""

import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError

from config import outbound
from jobs.runner import TransientError

MAX_ARGS = 50
MAX_ARG = 1000
MAX_TIMEOUT = 240  # seconds: inside the job's soft time limit
LOG_EXCERPT = 4000


class DeployError(Exception):
    """The deployment failed in a way another try will not cure; the message says why."""


@dataclass(frozen=True)
class Target:
    """What a deployer is given: the version, the request and the signed approval."""

    model: str
    model_id: int
    version: int
    artifact_sha256: str
    request_id: int
    request_url: str
    message_id: str  # stable across retries of the same round: receivers can tell a repeat
    envelope: dict = field(repr=False)


@dataclass(frozen=True)
class Deployed:
    log: str
    detail: dict = field(default_factory=dict)


def _text(value, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ValueError(f"{what} must be text of 1 to {limit} characters")
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError(f"{what} must not contain control characters")
    return value


class NoDeployer:
    """Signoff's own stage flag: nothing outside Signoff changes."""

    type = "none"
    keys = ()

    def __init__(self, options):
        pass

    def deploy(self, target: Target) -> Deployed:
        return Deployed(log="Marked as in production in Signoff (no deployer configured).")


class WebhookDeployer:
    """POST the signed approval to a URL (through the SSRF guard): 2xx is deployed, 4xx is a
    failure, 5xx and network errors are retried. ``secret_env`` names the environment variable
    holding a ``whsec_`` secret; the body is then signed per Standard Webhooks 1.0."""

    type = "webhook"
    keys = ("url", "secret_env")

    def __init__(self, options):
        try:
            outbound.check_url(options.get("url"))
        except ValidationError as error:
            raise ValueError(f"'url': {' '.join(error.messages)}") from None
        self.url = options["url"]
        self.secret_env = options.get("secret_env", "")
        if self.secret_env:
            _text(self.secret_env, "'secret_env'", 100)

    def deploy(self, target: Target) -> Deployed:
        secret = os.environ.get(self.secret_env, "") if self.secret_env else ""
        if self.secret_env and not secret:
            raise DeployError(f"The environment variable {self.secret_env} (the webhook's secret) is not set.")
        body = json.dumps(
            {"event": "model_version.deploy", "id": target.message_id, "timestamp": int(time.time()),
             "data": {"model": target.model, "version": target.version, "artifact_sha256": target.artifact_sha256,
                      "request": target.request_id, "url": target.request_url, "attestation": target.envelope}},
            sort_keys=True, separators=(",", ":"),
        ).encode()  # fmt: skip
        headers = outbound.signed_headers(secret, target.message_id, int(time.time()), body)
        try:
            status, answer = outbound.post(self.url, body, headers, settings.SIGNOFF_WEBHOOK_TIMEOUT_SECONDS)
        except ValidationError as refused:
            raise DeployError(" ".join(refused.messages)) from None
        except OSError as error:
            raise TransientError(f"{self.url} could not be reached: {error}") from error
        excerpt = answer.decode("utf-8", "replace")[:LOG_EXCERPT]
        log = f"POST {self.url} → HTTP {status}\n{excerpt}".strip()
        kind = outbound.answer_kind(status)
        if kind == "permanent":
            raise DeployError(f"{self.url} answered HTTP {status}: {excerpt[:300]}".strip())
        if kind == "transient":
            raise TransientError(f"{self.url} answered HTTP {status}")
        return Deployed(log=log, detail={"url": self.url, "status": status})


class CommandDeployer:
    """Run a program on the worker with the signed approval (JSON) on its standard input: exit 0
    is deployed, another exit status is a failure, running past ``timeout`` seconds is retried.
    Only programs the operator lists in ``SIGNOFF_DEPLOY_COMMANDS`` (absolute paths) may run. The
    program gets a clean environment (``PATH`` and ``SIGNOFF_*`` variables naming the version),
    an empty working directory, and its whole process group is ended when it returns."""

    type = "command"
    keys = ("argv", "timeout")

    def __init__(self, options):
        argv = options.get("argv")
        if not isinstance(argv, list) or not 1 <= len(argv) <= MAX_ARGS:
            raise ValueError(f"'argv' must be a list of 1 to {MAX_ARGS} arguments, the program first")
        self.argv = [_text(arg, "each argument of 'argv'", MAX_ARG) for arg in argv]
        if not os.path.isabs(self.argv[0]):
            raise ValueError("'argv' must start with the program's absolute path, e.g. /usr/local/bin/deploy-model")
        if self.argv[0] not in settings.SIGNOFF_DEPLOY_COMMANDS:
            raise ValueError(f"{self.argv[0]} is not among the programs SIGNOFF_DEPLOY_COMMANDS allows")
        timeout = options.get("timeout", 60)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT:
            raise ValueError(f"'timeout' must be a whole number of seconds from 1 to {MAX_TIMEOUT}")
        self.timeout = timeout

    def deploy(self, target: Target) -> Deployed:
        if self.argv[0] not in settings.SIGNOFF_DEPLOY_COMMANDS:  # the worker's settings decide too
            raise DeployError(f"{self.argv[0]} is not among the programs SIGNOFF_DEPLOY_COMMANDS allows")
        environment = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "SIGNOFF_MODEL": target.model,
            "SIGNOFF_VERSION": str(target.version),
            "SIGNOFF_ARTIFACT_SHA256": target.artifact_sha256,
            "SIGNOFF_REQUEST_URL": target.request_url,
        }
        stdin = json.dumps(target.envelope, sort_keys=True).encode()
        with tempfile.TemporaryDirectory(prefix="signoff-deploy-") as workdir:
            try:
                process = subprocess.Popen(
                    self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    env=environment, cwd=workdir, start_new_session=True, close_fds=True,
                )  # fmt: skip
            except OSError as error:
                raise DeployError(f"{self.argv[0]} could not be started: {error.strerror or error}") from None
            try:
                output, _ = process.communicate(stdin, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _end_group(process)
                try:
                    output = process.communicate(timeout=5)[0]
                except subprocess.TimeoutExpired:  # a descendant that left the group holds the pipe
                    output = b""
                raise TransientError(
                    f"{self.argv[0]} ran past {self.timeout} s and was stopped: {_tail(output)}"
                ) from None
            finally:
                _end_group(process)
        log = f"$ {' '.join(self.argv)}\nexit status {process.returncode}\n{_tail(output)}".strip()
        if process.returncode != 0:
            raise DeployError(f"{self.argv[0]} exited with status {process.returncode}: {_tail(output, 500)}".strip())
        return Deployed(log=log, detail={"argv": self.argv, "exit_status": 0})


def _end_group(process: subprocess.Popen) -> None:
    """Nothing the command started outlives it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(output: bytes | None, limit: int = LOG_EXCERPT) -> str:
    return (output or b"")[-limit:].decode("utf-8", "replace").strip()


DEPLOYERS = {deployer.type: deployer for deployer in (NoDeployer, WebhookDeployer, CommandDeployer)}


def register(deployer) -> None:
    """Another app's deployer (``mlflow_link``'s ``mlflow_alias``), from its ``AppConfig.ready()``."""
    DEPLOYERS[deployer.type] = deployer


def parse(value) -> dict | None:
    """A step's ``deployer:`` as stored (``None`` for ``none``); ``ValueError`` says what is wrong."""
    if value is None or value == "none":
        return None
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, dict):
        raise ValueError(f"must be none or a mapping with 'type' ({', '.join(DEPLOYERS)})")
    kind = DEPLOYERS.get(value.get("type")) if isinstance(value.get("type"), str) else None
    if kind is None:
        raise ValueError(f"'type' must be one of {', '.join(DEPLOYERS)}, not {str(value.get('type'))[:50]!r}")
    unknown = sorted(map(str, set(value) - {"type", *kind.keys}))
    if unknown:
        allowed = ", ".join(("type", *kind.keys))
        raise ValueError(f"unknown key '{unknown[0][:50]}' for a {kind.type} deployer (allowed: {allowed})")
    kind(value)  # validates
    return dict(value) if kind.type != "none" else None


def deployer_for(config: dict | None):
    """The deployer a stored step config names."""
    config = config or {"type": "none"}
    return DEPLOYERS[config["type"]](config)
