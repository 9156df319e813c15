"""Deployers and signed approvals, as an IT engineer and a deploy job meet them.

A deployment signs the approval (in-toto Statement, DSSE, Ed25519) and runs the step's deployer:
the webhook deployer POSTs it to a local receiver (signature checked, 5xx retried, 4xx a failed
deployment the engineer can retry); the command deployer runs an allow-listed program with the
approval on stdin in a clean environment. ``signoff attestation verify`` (the client package)
passes for the deployed artifact and fails for a changed byte, a changed statement or another key.
"""

import base64
import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from django.test.utils import CaptureQueriesContext
from signoff_client import VerificationError, verify
from signoff_client.cli import main as signoff

from approvals import attestations, deployers, services
from approvals.definitions import DefinitionError, parse_definition
from approvals.models import Attestation, PromotionRequest, StepState
from audit.models import AuditEvent
from config import outbound
from tests import factories

WORKFLOW = """
name: deploying
steps:
  - name: automated_checks
    type: checks
    checks:
      - type: artifact_integrity
  - name: manager_review
    type: approval
    approvers: [manager]
  - name: deployment
    type: deployment
    approvers: [IT engineer]
    deployer: {deployer}
"""
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def decide(background, request, actor, verdict="approve"):
    request.refresh_from_db()
    with background():
        services.step_decide(request=request, actor=actor, verdict=verdict, comment=f"{actor.username}: fine.")
    request.refresh_from_db()
    return request


def to_deployment(people, risk_model, submit, background):
    version = factories.make_version(model=risk_model, by=people.dana)
    request = submit(version, people.dana)
    return decide(background, request, people.mona), version


def artifact_file(version, tmp_path) -> Path:
    path = tmp_path / Path(version.artifact.name).name
    with version.artifact.open("rb") as source:
        path.write_bytes(source.read())
    return path


def public_key(tmp_path) -> Path:
    path = tmp_path / "signoff.pub.pem"
    path.write_bytes(attestations.public_key_pem())
    return path


# --- the signed approval -----------------------------------------------------------------------


def test_a_deployment_signs_an_approval_that_verifies_offline(people, risk_model, submit, background, tmp_path):
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    request = decide(background, request, people.mona)
    request = decide(background, request, people.quinn)
    request = decide(background, request, people.ivan)
    assert request.status == PromotionRequest.Status.COMPLETED
    attestation = Attestation.objects.get(version=request.version)
    statement = verify(attestation.envelope, artifact=artifact_file(request.version, tmp_path),
                       public_key_pem=attestations.public_key_pem())  # fmt: skip

    assert statement["subject"][0]["digest"]["sha256"] == request.version.artifact_sha256
    predicate = statement["predicate"]
    assert (predicate["model"], predicate["version"], predicate["stage"]) == ("credit-risk", 1, "production")
    assert predicate["workflow"]["digest"] == request.revision.digest
    deciders = {step["name"]: [(d["decider"], d["role"], d["comment"]) for d in step.get("decisions", [])]
                for step in predicate["steps"]}  # fmt: skip
    assert deciders["manager_review"] == [("mona", ["manager"], "mona: fine.")]
    assert deciders["qa_review"] == [("quinn", ["data analyst"], "quinn: fine.")]
    assert deciders["deployment"] == [("ivan", ["IT engineer"], "ivan: fine.")]
    checks = next(step for step in predicate["steps"] if step["name"] == "automated_checks")["checks"]
    assert {c["type"]: c["outcome"] for c in checks} == {
        "pickle_scan": "passed", "metric_threshold": "passed", "artifact_integrity": "passed"
    }  # fmt: skip
    assert all(c["inputs"]["artifact_sha256"] == request.version.artifact_sha256 for c in checks)
    all_decisions = [d for step in predicate["steps"] for d in step.get("decisions", [])]
    assert all(len(d["evidence_digest"]) == 64 for d in all_decisions)
    assert AuditEvent.objects.filter(verb="version.attested", object_id=str(request.version.pk)).count() == 1
    deployment = request.steps.get(name="deployment")
    assert deployment.result["deployment"]["deployer"] == "none"


def test_the_signed_statement_reads_every_deciders_roles_at_once(people, risk_model, submit, background):
    """Who decided, in which role: the same number of queries for one decider as for three."""
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    counts, roles = [], []
    for reviewer in (people.mona, people.quinn, people.ivan):
        request = decide(background, request, reviewer)
        request = PromotionRequest.objects.get(pk=request.pk)
        with CaptureQueriesContext(connection) as queries:
            statement = attestations.statement_for(request, request.steps.get(name="deployment"))
        counts.append(len(queries))
        roles.append([(d["decider"], d["role"]) for step in statement["predicate"]["steps"]
                      for d in step.get("decisions", [])])  # fmt: skip
    assert roles[-1] == [("mona", ["manager"]), ("quinn", ["data analyst"]), ("ivan", ["IT engineer"])]
    assert counts[0] == counts[1] == counts[2], counts


@pytest.fixture
def deployed(people, risk_model, submit, background, tmp_path):
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    for person in (people.mona, people.quinn, people.ivan):
        request = decide(background, request, person)
    envelope = Attestation.objects.get(version=request.version).envelope
    return request.version, envelope, artifact_file(request.version, tmp_path)


def test_verify_fails_for_one_changed_byte_of_the_artifact(deployed, tmp_path):
    version, envelope, artifact = deployed
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 1
    artifact.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match="artifact's SHA-256"):
        verify(envelope, artifact=artifact, public_key_pem=attestations.public_key_pem())


def test_verify_fails_for_a_changed_statement(deployed):
    version, envelope, artifact = deployed
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["steps"][1]["decisions"][0]["decider"] = "mallory"
    forged = {**envelope, "payload": base64.b64encode(json.dumps(statement).encode()).decode()}
    with pytest.raises(VerificationError, match="No signature"):
        verify(forged, artifact=artifact, public_key_pem=attestations.public_key_pem())


def test_verify_fails_for_another_key(deployed):
    version, envelope, artifact = deployed
    other = Ed25519PrivateKey.generate().public_key()
    pem = other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(VerificationError, match="No signature"):
        verify(envelope, artifact=artifact, public_key_pem=pem)


def test_verify_fails_for_an_approval_of_another_stage(deployed, tmp_path):
    version, envelope, artifact = deployed
    with pytest.raises(VerificationError, match="not 'staging'"):
        verify(envelope, artifact=artifact, public_key_pem=attestations.public_key_pem(), stage="staging")


def test_the_cli_verifies_with_exit_status_0_and_refuses_with_1(deployed, tmp_path, capsys):
    version, envelope, artifact = deployed
    bundle = tmp_path / "approval.intoto.json"
    bundle.write_text(json.dumps(envelope))
    key = public_key(tmp_path)
    assert signoff(["attestation", "verify", str(bundle), "--artifact", str(artifact), "--public-key", str(key)]) == 0
    assert "Verified: credit-risk v1 approved for production" in capsys.readouterr().out
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    assert signoff(["attestation", "verify", str(bundle), "--artifact", str(artifact), "--public-key", str(key)]) == 1
    assert "NOT VERIFIED: The artifact's SHA-256" in capsys.readouterr().out
    bundle.write_text("{not json")
    assert signoff(["attestation", "verify", str(bundle), "--artifact", str(artifact), "--public-key", str(key)]) == 1


def test_the_approval_downloads_as_an_attachment_to_those_who_see_the_model(deployed, client, api, people):
    version, envelope, _ = deployed
    url = f"/models/{version.model.name}/versions/{version.number}/attestation/"
    client.force_login(people.quinn)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="credit-risk-v1.intoto.json"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert json.loads(response.content) == envelope
    page = client.get(f"/models/{version.model.name}/versions/{version.number}/")
    assert b'data-testid="attestation-download"' in page.content
    client.force_login(people.gina)  # another team's data scientist: the model is invisible
    assert client.get(url).status_code == 404
    assert api(people.ivan).get(f"/api{url}").json() == envelope
    assert api(people.gina).get(f"/api{url}").status_code == 404


def test_a_version_never_deployed_has_no_approval_to_download(people, risk_model, client, api):
    version = factories.make_version(model=risk_model, by=people.dana)
    client.force_login(people.dana)
    url = f"/models/{risk_model.name}/versions/{version.number}/attestation/"
    assert client.get(url).status_code == 404
    response = api(people.dana).get(f"/api{url}")
    assert response.status_code == 404 and "never deployed" in response.json()["detail"]


def test_the_public_key_is_served_to_anyone_at_a_fixed_url(client):
    response = client.get("/attestations/public-key.pem")
    assert response.status_code == 200
    assert response.content == attestations.public_key_pem()
    assert response.content.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert response["X-Signoff-Key-Id"] == attestations.key_id()


# --- the webhook deployer ----------------------------------------------------------------------


def test_the_webhook_deployer_posts_the_signed_approval_and_retries_a_5xx(
    people, risk_model, submit, background, use_workflow, receiver, monkeypatch, tmp_path
):
    hook = receiver(503, 200)
    monkeypatch.setenv("DEPLOY_HOOK_SECRET", SECRET)
    use_workflow(WORKFLOW.format(deployer=f"{{type: webhook, url: '{hook.url}', secret_env: DEPLOY_HOOK_SECRET}}"))
    request, version = to_deployment(people, risk_model, submit, background)
    request = decide(background, request, people.ivan)

    assert request.status == PromotionRequest.Status.COMPLETED
    version.refresh_from_db()
    assert version.stage == "production"
    assert len(hook.received) == 2  # 503, then 200: the same message both times
    (first_headers, _), (headers, body) = hook.received
    assert first_headers["webhook-id"] == headers["webhook-id"]
    assert (
        outbound.signature(SECRET, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
        == (headers["webhook-signature"])
    )
    payload = json.loads(body)
    assert payload["event"] == "model_version.deploy" and payload["data"]["version"] == version.number
    verify(payload["data"]["attestation"], artifact=artifact_file(version, tmp_path),
           public_key_pem=attestations.public_key_pem())  # fmt: skip
    step = request.steps.get(name="deployment")
    assert step.result["deployment"]["deployer"] == "webhook"
    assert "HTTP 200" in step.result["deployment"]["log"]


def test_a_4xx_is_a_failed_deployment_the_engineer_retries(
    people, risk_model, submit, background, use_workflow, receiver, client
):
    hook = receiver(410, 200)
    use_workflow(WORKFLOW.format(deployer=f"{{type: webhook, url: '{hook.url}'}}"))
    request, version = to_deployment(people, risk_model, submit, background)
    request = decide(background, request, people.ivan)

    step = request.steps.get(name="deployment")
    assert (request.status, step.status, step.round) == ("awaiting_review", StepState.Status.WAITING, 2)
    assert "answered HTTP 410" in step.note and "DeployError" not in step.note
    version.refresh_from_db()
    assert version.stage != "production"
    assert AuditEvent.objects.filter(verb="deployment.failed").count() == 1
    client.force_login(people.ivan)
    assert b"answered HTTP 410" in client.get(request.get_absolute_url()).content

    request = decide(background, request, people.ivan)  # the receiver now answers 200
    assert request.status == PromotionRequest.Status.COMPLETED
    assert len(hook.received) == 2
    assert Attestation.objects.filter(request=request).count() == 2  # one per round, each verifiable


# --- the command deployer ----------------------------------------------------------------------


def program(tmp_path, body: str) -> str:
    path = tmp_path / "deploy-model"
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_the_command_deployer_runs_an_allowed_program_with_the_approval_and_a_clean_environment(
    people, risk_model, submit, background, use_workflow, settings, tmp_path, monkeypatch
):
    seen = tmp_path / "seen.json"
    deploy = program(tmp_path, f"""
import json, os, sys
envelope = json.load(sys.stdin)
json.dump({{"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv[1:], "envelope": envelope}},
          open({str(seen)!r}, "w"))
print("rolled out to 3 replicas")
""")  # fmt: skip
    settings.SIGNOFF_DEPLOY_COMMANDS = [deploy]
    monkeypatch.setenv("SIGNOFF_DATABASE_PASSWORD", "must-not-leak")
    use_workflow(WORKFLOW.format(deployer=f"{{type: command, argv: ['{deploy}', --env, prod], timeout: 30}}"))
    request, version = to_deployment(people, risk_model, submit, background)
    request = decide(background, request, people.ivan)

    assert request.status == PromotionRequest.Status.COMPLETED
    run = json.loads(seen.read_text())
    assert run["argv"] == ["--env", "prod"]
    assert set(run["env"]) <= {"PATH", "LANG", "LC_CTYPE", "SIGNOFF_MODEL", "SIGNOFF_VERSION",
                               "SIGNOFF_ARTIFACT_SHA256", "SIGNOFF_REQUEST_URL"}  # fmt: skip
    assert run["env"]["SIGNOFF_ARTIFACT_SHA256"] == version.artifact_sha256
    assert not os.path.exists(run["cwd"])  # an empty directory of its own, removed afterwards
    verify(run["envelope"], artifact=artifact_file(version, tmp_path), public_key_pem=attestations.public_key_pem())
    log = request.steps.get(name="deployment").result["deployment"]["log"]
    assert "exit status 0" in log and "rolled out to 3 replicas" in log


def test_a_failing_command_is_a_failed_deployment_with_its_output(
    people, risk_model, submit, background, use_workflow, settings, tmp_path
):
    deploy = program(tmp_path, "import sys\nprint('cluster unreachable')\nsys.exit(7)\n")
    settings.SIGNOFF_DEPLOY_COMMANDS = [deploy]
    use_workflow(WORKFLOW.format(deployer=f"{{type: command, argv: ['{deploy}']}}"))
    request, version = to_deployment(people, risk_model, submit, background)
    request = decide(background, request, people.ivan)
    step = request.steps.get(name="deployment")
    assert step.status == StepState.Status.WAITING
    assert "exited with status 7: cluster unreachable" in step.note
    version.refresh_from_db()
    assert version.stage != "production"


def test_a_command_past_its_time_limit_is_stopped_with_everything_it_started(
    people, risk_model, submit, background, use_workflow, settings, tmp_path
):
    marker = tmp_path / "child.pid"
    deploy = program(tmp_path, f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open({str(marker)!r}, "w").write(str(child.pid))
time.sleep(600)
""")  # fmt: skip
    settings.SIGNOFF_DEPLOY_COMMANDS = [deploy]
    use_workflow(WORKFLOW.format(deployer=f"{{type: command, argv: ['{deploy}'], timeout: 1}}"))
    request, version = to_deployment(people, risk_model, submit, background)
    started = time.monotonic()
    request = decide(background, request, people.ivan)
    assert time.monotonic() - started < 60  # each attempt stopped at its limit, then given up
    step = request.steps.get(name="deployment")
    assert step.status == StepState.Status.WAITING and "ran past 1 s" in step.note
    child = int(marker.read_text())
    time.sleep(0.2)
    assert not _alive(child), "a process the deploy command started outlived it"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as status:
            return status.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_program_the_worker_does_not_allow_does_not_run(
    people, risk_model, submit, background, use_workflow, settings, tmp_path
):
    ran = tmp_path / "ran"
    deploy = program(tmp_path, f"open({str(ran)!r}, 'w').write('ran')\n")
    settings.SIGNOFF_DEPLOY_COMMANDS = [deploy]
    use_workflow(WORKFLOW.format(deployer=f"{{type: command, argv: ['{deploy}']}}"))
    request, _ = to_deployment(people, risk_model, submit, background)
    settings.SIGNOFF_DEPLOY_COMMANDS = []  # the worker's settings changed since the workflow was saved
    request = decide(background, request, people.ivan)
    assert not ran.exists()
    assert "not among the programs SIGNOFF_DEPLOY_COMMANDS allows" in request.steps.get(name="deployment").note


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "deployer, problem",
    [
        ("kubernetes", "must be one of none, webhook, command"),
        ("{type: webhook}", "Give an http or https URL"),
        ("{type: webhook, url: 'file:///etc/passwd'}", "file:, gopher:"),
        ("{type: webhook, url: 'http://169.254.169.254/latest/meta-data/'}", "link-local"),
        ("{type: webhook, url: 'http://10.1.2.3/'}", "private"),
        ('{type: webhook, url: "https://example.com/\\0"}', "control characters"),
        ('{type: webhook, url: "https://example.com/\\ud800"}', "control characters"),
        ("{type: webhook, url: 'https://example.com/', headers: {}}", "unknown key 'headers'"),
        ("{type: command, argv: []}", "list of 1 to 50"),
        ("{type: command, argv: [deploy.sh]}", "absolute path"),
        ("{type: command, argv: [/bin/sh, -c, 'curl evil']}", "not among the programs"),
        ('{type: command, argv: ["/usr/bin/deploy\\0x"]}', "control characters"),
        ("{type: command, argv: [/usr/local/bin/deploy-model], timeout: 1e400}", "'timeout'"),
        ("{type: command, argv: [/usr/local/bin/deploy-model], timeout: 100000000000000000000000}", "'timeout'"),
        ("{type: command, argv: [/usr/local/bin/deploy-model], timeout: true}", "'timeout'"),
    ],
)
def test_a_bad_deployer_is_refused_with_what_is_wrong(settings, deployer, problem):
    settings.SIGNOFF_DEPLOY_COMMANDS = ["/usr/local/bin/deploy-model"]
    with pytest.raises(DefinitionError) as refused:
        parse_definition(WORKFLOW.format(deployer=deployer))
    assert problem in str(refused.value) and "deployer" in str(refused.value)


@pytest.mark.parametrize("size", [1001, 2**20])
def test_a_long_argument_is_refused(settings, size):
    settings.SIGNOFF_DEPLOY_COMMANDS = ["/usr/local/bin/deploy-model"]
    with pytest.raises(ValueError, match="1 to 1000 characters"):
        deployers.parse({"type": "command", "argv": ["/usr/local/bin/deploy-model", "a" * size]})


def test_a_definition_without_a_deployer_keeps_its_digest():
    plain = WORKFLOW.replace("    deployer: {deployer}\n", "")
    explicit = WORKFLOW.format(deployer="none")
    assert parse_definition(plain).digest == parse_definition(explicit).digest
