"""The ``signoff`` CLI as a CI job runs it: a real process against a live server, with the
token and address from the environment. ``submit --wait`` prints the request's URL and each
step change, and exits 0 when the version reaches production, 2 when it is rejected, 3 when its
checks fail, 4 when it times out; ``register --submit`` does both in one call."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accounts.models import Scope
from accounts.services import api_token_create
from approvals import services
from approvals.models import PromotionRequest
from registry.models import ModelVersion
from tests import factories

SIGNOFF = str(Path(sys.executable).with_name("signoff"))


@pytest.fixture
def cli(live_server, people, tmp_path):
    """``cli(user, *args)``: the CLI started as ``user`` (a token of theirs), as a process."""

    def start(user, *args):
        _, token = api_token_create(user=user, name="ci", scopes=list(Scope.values))
        env = {"PATH": os.environ["PATH"], "SIGNOFF_URL": live_server.url, "SIGNOFF_TOKEN": token}
        return subprocess.Popen([SIGNOFF, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    return start


def finished(process, timeout=60) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def waiting_request(version, status="awaiting_review", timeout=30) -> PromotionRequest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = PromotionRequest.objects.filter(version=version, status=status).first()
        if request:
            return request
        time.sleep(0.2)
    raise AssertionError(f"no request of {version} reached {status}")


def decide(request, actor, verdict="approve", comment="Reviewed in the CI test."):
    request.refresh_from_db()
    services.step_decide(request=request, actor=actor, verdict=verdict, comment=comment)


def artifact(tmp_path) -> Path:
    """A pickled model file, as a training job writes it."""
    path = tmp_path / "model.joblib"
    path.write_bytes(factories.artifact().read())
    return path


@pytest.mark.django_db(transaction=True)
def test_register_submit_and_wait_exits_0_once_deployed(cli, people, risk_model, eager_tasks, tmp_path):
    process = cli(
        people.dana, "register", "credit-risk", str(artifact(tmp_path)),
        "--metrics", json.dumps({"accuracy": 0.93, "f1": 0.9}), "--lineage", "code_commit=abc1234",
        "--submit", "--wait", "--interval", "0.2", "--timeout", "120",
    )  # fmt: skip
    version = None
    while version is None:
        version = ModelVersion.objects.filter(model=risk_model).first()
        time.sleep(0.1)
    request = waiting_request(version)
    decide(request, people.mona)
    decide(request, people.quinn)
    decide(request, people.ivan)

    code, output = finished(process)
    assert code == 0, output
    assert f"Registered credit-risk v1 (sha256 {version.artifact_sha256})" in output
    assert f"/requests/{request.pk}/" in output
    assert "Manager review: approved" in output and "Deploy to production: done" in output
    assert output.rstrip().endswith("credit-risk v1 is in production.")
    version.refresh_from_db()
    assert version.stage == "production" and version.code_commit == "abc1234"


@pytest.mark.django_db(transaction=True)
def test_a_rejection_exits_2_with_who_and_why(cli, people, risk_model, eager_tasks):
    version = factories.make_version(model=risk_model, by=people.dana)
    process = cli(people.dana, "submit", "credit-risk", "1", "--wait", "--interval", "0.2", "--timeout", "120")
    request = waiting_request(version)
    decide(request, people.mona, "request_changes", "Recall on the thin-file segment is too low.")

    code, output = finished(process)
    assert code == 2, output
    assert "The request ended: changes requested by mona at 'Manager review': Recall on the thin-file" in output


@pytest.mark.django_db(transaction=True)
def test_failed_checks_exit_3_with_the_check_that_failed(cli, people, risk_model, eager_tasks):
    factories.make_version(model=risk_model, by=people.dana, accuracy=0.42)
    code, output = finished(cli(people.dana, "submit", "credit-risk", "1", "--wait", "--interval", "0.2"))
    assert code == 3, output
    assert "The request ended: checks failed at 'Automated checks'" in output and "accuracy" in output


@pytest.mark.django_db(transaction=True)
def test_waiting_past_the_timeout_exits_4(cli, people, risk_model, eager_tasks):
    factories.make_version(model=risk_model, by=people.dana)
    code, output = finished(cli(people.dana, "submit", "credit-risk", "1", "--wait", "--interval", "0.2",
                                "--timeout", "1"))  # fmt: skip
    assert code == 4, output
    assert "Timed out after 1 s; the request is awaiting review." in output


@pytest.mark.django_db(transaction=True)
def test_wait_until_qa_exits_0_when_the_version_reaches_qa(cli, people, risk_model, eager_tasks):
    version = factories.make_version(model=risk_model, by=people.dana)
    process = cli(people.dana, "submit", "credit-risk", "1", "--wait", "--until", "qa", "--interval", "0.2")
    decide(waiting_request(version), people.mona)
    code, output = finished(process)
    assert code == 0 and "credit-risk v1 is in qa." in output, output


@pytest.mark.django_db(transaction=True)
def test_refusals_exit_1_with_the_servers_message(cli, people, risk_model, growth_model, eager_tasks, tmp_path):
    factories.make_version(model=risk_model, by=people.dana)
    code, output = finished(cli(people.quinn, "submit", "credit-risk", "1"))  # an analyst may not submit
    assert code == 1 and output.startswith("signoff: ") and "Traceback" not in output, output
    code, output = finished(cli(people.dana, "status", "churn", "1"))  # another team's model
    assert code == 1 and "signoff: " in output, output
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"<html>not a model</html>")
    code, output = finished(cli(people.dana, "register", "credit-risk", str(bad), "--metrics", '{"accuracy": 1e400}'))
    assert code == 1 and "signoff: " in output, output
    assert ModelVersion.objects.filter(model=risk_model).count() == 1


@pytest.mark.django_db(transaction=True)
def test_without_a_token_the_cli_says_what_to_set(live_server):
    process = subprocess.run([SIGNOFF, "status", "credit-risk", "1"], env={"PATH": os.environ["PATH"]},
                             capture_output=True, text=True, timeout=30)  # fmt: skip
    assert process.returncode == 1 and "Set SIGNOFF_URL" in process.stderr


@pytest.mark.django_db(transaction=True)
def test_datasets_add_waits_until_the_file_is_read(cli, people, risk_model, eager_tasks, tmp_path):
    data = tmp_path / "holdout.csv"
    data.write_text("income,age,default\n" + "".join(f"{i * 1000},{20 + i % 40},{i % 2}\n" for i in range(200)))
    process = cli(people.dana, "datasets", "add", "credit-risk", str(data), "--name", "holdout-2026-12",
                  "--target", "default", "--wait", "--interval", "0.2")  # fmt: skip
    code, output = finished(process)
    assert code == 0 and "Dataset holdout-2026-12 of credit-risk: ready" in output, output


@pytest.mark.django_db(transaction=True)
def test_attestation_download_then_verify_offline(cli, people, risk_model, eager_tasks, tmp_path):
    version = factories.make_version(model=risk_model, by=people.dana)
    with_checks = services.promotion_request_submit(version=version, actor=people.dana)
    for person in (people.mona, people.quinn, people.ivan):
        decide(with_checks, person)
    bundle, key = tmp_path / "approval.json", tmp_path / "signoff.pem"
    code, output = finished(cli(people.ivan, "attestation", "download", "credit-risk", "1", "-o", str(bundle),
                                "--public-key", str(key)))  # fmt: skip
    assert code == 0, output
    model_file = tmp_path / "model.joblib"
    with version.artifact.open("rb") as source:
        model_file.write_bytes(source.read())
    verified = subprocess.run([SIGNOFF, "attestation", "verify", str(bundle), "--artifact", str(model_file),
                               "--public-key", str(key)], capture_output=True, text=True, env={})  # fmt: skip
    assert verified.returncode == 0 and "Verified: credit-risk v1 approved for production" in verified.stdout


def test_waiting_prints_the_step_that_moved_the_version_before_saying_where_it_is(capsys):
    """The deployment commits the stage and its step's end together, between two of the CLI's
    reads: the last lines are the step done, then the version in production."""
    from signoff_client import cli as signoff_cli

    class Server:
        """Answers the CLI's reads; the deployment commits between its first read and its second."""

        def __init__(self):
            self.reads, self.deployed = 0, False

        def _read(self):
            self.reads += 1
            if self.reads == 2:
                self.deployed = True

        def request(self, request_id):
            self._read()
            status = "done" if self.deployed else "running"
            steps = [{"name": "deployment", "title": "Deploy to production", "status": status}]
            return {"id": request_id, "status": "completed" if self.deployed else "in_progress", "steps": steps}

        def version(self, model, number):
            self._read()
            return {"stage": "production" if self.deployed else "qa"}

    code = signoff_cli.wait(Server(), 7, "credit-risk", 1, until="production", timeout=5, interval=0)
    lines = capsys.readouterr().out.splitlines()
    assert code == signoff_cli.OK
    assert lines[-2:] == ["  Deploy to production: done", "credit-risk v1 is in production."]
