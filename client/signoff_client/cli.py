"""``signoff``: register, submit and wait, status, datasets and signed approvals, for CI pipelines.

Exit statuses (``signoff submit --wait``): 0 the version reached the stage asked for; 2 rejected,
changes requested, withdrawn or rolled back; 3 checks failed or a step failed; 4 timed out;
1 the server refused, could not be reached, or the command was wrong.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from signoff_client.api import Client, SignoffError
from signoff_client.attestation import VerificationError, verify

OK, ERROR, REFUSED, FAILED, TIMEOUT = 0, 1, 2, 3, 4
STAGES = ["development", "staging", "qa", "production"]
CLOSED = {
    "completed": OK,
    "rejected": REFUSED,
    "changes_requested": REFUSED,
    "withdrawn": REFUSED,
    "rolled_back": REFUSED,
    "checks_failed": FAILED,
    "failed": FAILED,
}


def _json_object(text: str, what: str) -> dict:
    """A JSON object given inline or as @file."""
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        value = json.loads(text)
    except ValueError as error:
        raise SignoffError(f"{what} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise SignoffError(f"{what} must be a JSON object")
    return value


def _pairs(items: list[str], what: str) -> dict:
    pairs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SignoffError(f"{what} takes KEY=VALUE, not {item!r}")
        pairs[key] = value
    return pairs


def _say(text: str) -> None:
    print(text, flush=True)


def cmd_register(client: Client, args) -> int:
    version = client.register(
        args.model,
        Path(args.artifact),
        metrics=_json_object(args.metrics, "--metrics"),
        params=_json_object(args.params, "--params") if args.params else {},
        lineage=_pairs(args.lineage, "--lineage"),
        description=args.description,
    )
    _say(f"Registered {version['model']} v{version['number']} (sha256 {version['artifact_sha256']})")
    if args.submit:
        args.version = version["number"]
        return cmd_submit(client, args)
    return OK


def _steps_line(step: dict) -> str:
    return f"  {step['title']}: {step['status'].replace('_', ' ')}"


def cmd_submit(client: Client, args) -> int:
    created = client.submit(args.model, args.version)
    _say(f"Submitted {args.model} v{args.version}: {client.url}{created['url']}")
    if not args.wait:
        return OK
    return wait(client, created["id"], args.model, args.version, until=args.until, timeout=args.timeout,
                interval=args.interval)  # fmt: skip


def wait(client: Client, request_id: int, model: str, version: int, *, until: str, timeout: float,
         interval: float) -> int:  # fmt: skip
    """Follow the request, printing each step change, until the version reaches ``until`` or the request closes."""
    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    while True:
        request = client.request(request_id)
        _say_changes(request, seen)
        stage = client.version(model, version)["stage"]
        if stage in STAGES and STAGES.index(stage) >= STAGES.index(until):
            # The step that moved the version committed with the stage, perhaps after the request
            # was read: read it again, so its end is printed before where the version is.
            request = client.request(request_id)
            _say_changes(request, seen)
            if request["status"] != "rolled_back":
                _say(f"{model} v{version} is in {stage}.")
                return OK
        if request["status"] in CLOSED:
            reason = _closing_reason(request)
            _say(f"The request ended: {request['status'].replace('_', ' ')}{reason}")
            return CLOSED[request["status"]] if CLOSED[request["status"]] != OK else FAILED
        if time.monotonic() >= deadline:
            _say(f"Timed out after {timeout:g} s; the request is {request['status'].replace('_', ' ')}.")
            return TIMEOUT
        time.sleep(interval)


def _say_changes(request: dict, seen: dict[str, str]) -> None:
    """Print each step whose status differs from the one last printed (``seen``, updated)."""
    for step in request.get("steps", []):
        if seen.get(step["name"]) != step["status"]:
            seen[step["name"]] = step["status"]
            _say(_steps_line(step))


def _closing_reason(request: dict) -> str:
    for step in reversed(request.get("steps", [])):
        for decision in reversed(step.get("decisions") or []):
            if decision.get("decision") != "approve":
                comment = decision.get("comment") or ""
                return f" by {decision.get('actor')} at '{step['title']}'" + (f": {comment}" if comment else "")
        failed = [run for run in step.get("check_runs") or [] if run.get("status") in ("failed", "error")]
        if failed:
            return f" at '{step['title']}': " + "; ".join(f"{run['title']}: {run.get('summary', '')}" for run in failed)
    return ""


def cmd_status(client: Client, args) -> int:
    version = client.version(args.model, args.version)
    _say(f"{version['model']} v{version['number']}: {version['stage']}")
    if args.request:
        request = client.request(args.request)
        _say(f"Request #{request['id']}: {request['status'].replace('_', ' ')} ({client.url}{request['url']})")
        for step in request.get("steps", []):
            _say(_steps_line(step))
    return OK


def cmd_datasets_add(client: Client, args) -> int:
    sensitive = [c.strip() for c in (args.sensitive or "").split(",") if c.strip()]
    dataset = client.dataset_add(args.model, Path(args.file), name=args.name, target=args.target,
                                 sensitive=sensitive, description=args.description)  # fmt: skip
    deadline = time.monotonic() + args.timeout
    while args.wait and dataset["status"] == "profiling" and time.monotonic() < deadline:
        time.sleep(args.interval)
        dataset = client.dataset(args.model, args.name)
    _say(f"Dataset {dataset['name']} of {args.model}: {dataset['status']}")
    if dataset["status"] == "refused":
        _say(f"  {dataset.get('problem', '')}")
        return FAILED
    return OK


def cmd_attestation_verify(args) -> int:
    try:
        envelope = json.loads(Path(args.file).read_text())
        statement = verify(envelope, artifact=Path(args.artifact), public_key_pem=Path(args.public_key).read_bytes(),
                           stage=args.stage)  # fmt: skip
    except (OSError, ValueError, VerificationError) as error:
        _say(f"NOT VERIFIED: {error}")
        return ERROR
    predicate = statement["predicate"]
    deciders = [d["decider"] for step in predicate.get("steps", []) for d in step.get("decisions", [])]
    digest = statement["subject"][0]["digest"]["sha256"]
    _say(f"Verified: {predicate['model']} v{predicate['version']} approved for {predicate['stage']} "
         f"(sha256 {digest}); decided by {', '.join(deciders) or 'nobody'}.")  # fmt: skip
    return OK


def cmd_attestation_download(client: Client, args) -> int:
    envelope = client.attestation(args.model, args.version)
    Path(args.output).write_text(json.dumps(envelope, indent=2, sort_keys=True) + "\n")
    if args.public_key:
        Path(args.public_key).write_bytes(client.public_key())
    _say(f"Wrote {args.output}")
    return OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="signoff", description="Signoff from CI: SIGNOFF_URL and SIGNOFF_TOKEN.")
    commands = top.add_subparsers(dest="command", required=True)

    def waiting(p):
        p.add_argument("--wait", action="store_true", help="follow the request until it is decided")
        p.add_argument("--until", choices=STAGES[1:], default="production", help="the stage that counts as done")
        p.add_argument("--timeout", type=float, default=3600, help="seconds to wait (default 3600)")
        p.add_argument("--interval", type=float, default=5, help="seconds between polls (default 5)")

    p = commands.add_parser("register", help="register a version (and submit it with --submit)")
    p.add_argument("model")
    p.add_argument("artifact")
    p.add_argument("--metrics", required=True, help='JSON object or @file, e.g. {"auc": 0.91}')
    p.add_argument("--params", help="JSON object or @file")
    p.add_argument("--lineage", action="append", metavar="KEY=VALUE", help="dataset_uri, code_commit, ...")
    p.add_argument("--description", default="")
    p.add_argument("--submit", action="store_true")
    waiting(p)
    p.set_defaults(run=cmd_register)

    p = commands.add_parser("submit", help="submit a version for approval")
    p.add_argument("model")
    p.add_argument("version", type=int)
    waiting(p)
    p.set_defaults(run=cmd_submit)

    p = commands.add_parser("status", help="a version's stage (and a request's steps)")
    p.add_argument("model")
    p.add_argument("version", type=int)
    p.add_argument("--request", type=int)
    p.set_defaults(run=cmd_status)

    datasets = commands.add_parser("datasets", help="evaluation datasets").add_subparsers(dest="action", required=True)
    p = datasets.add_parser("add", help="upload an evaluation dataset (CSV or Parquet)")
    p.add_argument("model")
    p.add_argument("file")
    p.add_argument("--name", required=True)
    p.add_argument("--target", required=True, help="the label column")
    p.add_argument("--sensitive", help="comma-separated sensitive columns")
    p.add_argument("--description", default="")
    p.add_argument("--wait", action="store_true", help="wait until it is read")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--interval", type=float, default=2)
    p.set_defaults(run=cmd_datasets_add)

    attestation = commands.add_parser("attestation", help="signed approvals").add_subparsers(
        dest="action", required=True
    )
    p = attestation.add_parser("verify", help="check a signed approval offline")
    p.add_argument("file")
    p.add_argument("--artifact", required=True)
    p.add_argument("--public-key", required=True)
    p.add_argument("--stage", default="production")
    p.set_defaults(run=cmd_attestation_verify, offline=True)
    p = attestation.add_parser("download", help="fetch a version's signed approval")
    p.add_argument("model")
    p.add_argument("version", type=int)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--public-key", help="also write the public key here")
    p.set_defaults(run=cmd_attestation_download)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        if getattr(args, "offline", False):
            return args.run(args)
        return args.run(Client(), args)
    except SignoffError as error:
        print(f"signoff: {error}", file=sys.stderr, flush=True)
        return ERROR


if __name__ == "__main__":
    sys.exit(main())
