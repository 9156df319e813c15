"""The demo: accounts for each role, real trained models, requests in several states."""

import time

import joblib
import numpy as np
import pytest
import skops.io
from django.contrib.auth import authenticate
from django.core.management import call_command

from approvals.models import CheckRun, PromotionRequest, Waiver
from audit.models import AuditEvent
from demo.management.commands.rundemo import start_worker, stop_worker
from demo.state import DEMO_PASSWORD
from evidence.models import EvaluationDataset, Measurement
from registry.models import ModelVersion, RegisteredModel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seeded(settings, shipped_workflow):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo")


def test_the_demo(seeded, rf, capsys):
    """One seeding (it runs every evidence check in the sandbox), looked at from each side."""
    every_demo_account_logs_in_with_its_role(rf)
    the_demo_models_are_real_trained_scikit_learn_models()
    each_demo_model_has_a_hold_out_dataset()
    the_demo_leaves_requests_in_each_state()
    the_demo_shows_each_kind_of_failure_next_to_clean_versions()
    the_demo_runs_three_workflows()
    the_demo_has_an_emergency_release_with_its_retrospective()
    the_demo_gates_what_matters_for_fraud()
    the_demo_gates_what_matters_for_churn()
    the_demo_shows_a_working_week()
    seeding_twice_changes_nothing(capsys)


def every_demo_account_logs_in_with_its_role(rf):
    roles = {"dana": "data scientist", "mona": "manager", "quinn": "data analyst", "ivan": "IT engineer"}
    for username, role in roles.items():
        user = authenticate(rf.post("/login/"), username=username, password=DEMO_PASSWORD)
        assert user is not None, username
        assert role in set(user.groups.values_list("name", flat=True))
    assert authenticate(rf.post("/login/"), username="admin", password=DEMO_PASSWORD).is_superuser


def the_demo_models_are_real_trained_scikit_learn_models():
    assert set(RegisteredModel.objects.values_list("name", flat=True)) == {
        "credit-risk",
        "customer-churn",
        "fraud-detection",
    }
    # The booby-trapped pickle is never loaded, here either.
    for version in ModelVersion.objects.exclude(artifact__endswith=".pkl"):
        with version.artifact.open("rb") as artifact:
            if version.artifact.name.endswith(".skops"):
                data = artifact.read()
                bundle = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
            else:
                bundle = joblib.load(artifact)
        row = np.zeros((1, len(bundle["features"])))
        probability = bundle["model"].predict_proba(row)[0, 1]
        assert 0.0 <= probability <= 1.0
        assert 0.5 < version.metrics["accuracy"] <= 1.0
        assert version.dataset_uri and version.code_commit and version.params["estimator"]


def each_demo_model_has_a_hold_out_dataset():
    datasets = {d.model.name: d for d in EvaluationDataset.objects.select_related("model")}
    assert set(datasets) == {"credit-risk", "customer-churn", "fraud-detection"}
    assert all(d.row_count == 2000 and d.sensitive_columns == ["segment"] for d in datasets.values())
    assert datasets["credit-risk"].target_column == "defaulted"


def the_demo_leaves_requests_in_each_state():
    statuses = {
        (r.model.name, r.version.number): (r.status, r.current_step.name) for r in PromotionRequest.objects.all()
    }
    assert statuses[("customer-churn", 2)] == ("awaiting_review", "manager_review")
    assert statuses[("fraud-detection", 1)] == ("awaiting_review", "qa_review")
    assert statuses[("credit-risk", 2)][0] == "completed"
    assert statuses[("credit-risk", 3)][0] == "checks_failed"
    assert statuses[("customer-churn", 1)][0] == "changes_requested"
    stages = dict(ModelVersion.objects.filter(model__name="credit-risk").values_list("number", "stage"))
    assert stages == {1: "archived", 2: "production", 3: "development", 4: "development", 5: "development"}
    assert ModelVersion.objects.get(model__name="fraud-detection", number=1).stage == "qa"
    assert statuses[("fraud-detection", 3)][0] == "checks_failed"
    scan = CheckRun.objects.get(
        step__request__version__model__name="fraud-detection",
        step__request__version__number=3,
        check_type="pickle_scan",
    )
    assert scan.status == "failed" and "posix.system" in scan.summary


def the_demo_shows_each_kind_of_failure_next_to_clean_versions():
    def failed(name, number):
        runs = CheckRun.objects.filter(step__request__version__model__name=name, step__request__version__number=number)
        return {run.check_type for run in runs if run.status == "failed"}

    def passed_all(name, number):
        runs = CheckRun.objects.filter(step__request__version__model__name=name, step__request__version__number=number)
        return runs.count() == 8 and all(run.status == "passed" for run in runs)

    assert passed_all("credit-risk", 2) and passed_all("customer-churn", 2) and passed_all("fraud-detection", 1)
    assert "regression_vs_production" in failed("credit-risk", 3)  # worse than production
    assert failed("credit-risk", 4) == {"fairness"}  # trained on a biased history
    assert "schema_compatibility" in failed("credit-risk", 5)  # dropped late_payments
    assert failed("customer-churn", 3) == {"reevaluate"}  # inflated claims
    assert "model_card" in failed("customer-churn", 4)  # incomplete card
    # ... and dana asked a manager to waive it (the low-risk workflow allows it)
    waiver = Waiver.objects.get(request__version__model__name="customer-churn", request__version__number=4)
    assert (waiver.check_run.check_type, waiver.status, waiver.requested_by.username) == (
        "model_card",
        "requested",
        "dana",
    )
    assert "pickle_scan" in failed("fraud-detection", 3)  # malicious pickle
    churn = ModelVersion.objects.get(model__name="customer-churn", number=2)  # a skops file, measured like the rest
    assert churn.artifact.name.endswith(".skops") and churn.measurements.exists()
    resubmitted = PromotionRequest.objects.get(version=churn)  # the fix mona asked for on v1
    assert resubmitted.resubmission_of.version.number == 1 and churn.derived_from.number == 1
    measured = Measurement.objects.get(version__model__name="credit-risk", version__number=2)
    assert set(measured.metrics) >= {"accuracy", "roc_auc", "log_loss"} and measured.details["fairness"]["segment"]


def the_demo_runs_three_workflows():
    from approvals.models import Decision, Workflow, WorkflowAssignment

    assert set(Workflow.objects.values_list("name", flat=True)) == {"default", "low-risk", "high-risk"}
    assert Workflow.objects.get(is_default=True).name == "default"
    assigned = dict(WorkflowAssignment.objects.values_list("model__name", "workflow__name"))
    assert assigned == {"credit-risk": "high-risk", "customer-churn": "low-risk"}
    deployed = PromotionRequest.objects.get(version__model__name="credit-risk", version__number=2)
    assert deployed.revision.workflow.name == "high-risk"
    deciders = {(d.step.name, d.actor.username) for d in Decision.objects.filter(request=deployed)}
    assert deciders == {("manager_review", "mona"), ("risk_review", "rhea"), ("qa_review", "quinn"),
                        ("qa_review", "priya"), ("deployment", "ivan")}  # fmt: skip
    churn = PromotionRequest.objects.get(version__model__name="customer-churn", version__number=2)
    assert churn.steps.filter(kind="policy").exists()
    assert AuditEvent.objects.filter(verb="workflow.assigned", actor__username="admin").count() == 2


def the_demo_shows_a_working_week():
    """A claimed step, an overdue step and a delegation, besides the conversation, the waiver and
    the emergency release checked above."""
    from approvals.models import Delegation, StepState

    claimed = StepState.objects.get(request__version__model__name="customer-churn", request__version__number=2,
                                    name="manager_review")  # fmt: skip
    assert claimed.claim_holder is not None and claimed.claim_holder.username == "mona"
    qa = StepState.objects.get(request__version__model__name="fraud-detection", request__version__number=1,
                               name="qa_review")  # fmt: skip
    assert qa.is_overdue
    delegation = Delegation.objects.select_related("principal", "delegate").get()
    assert (delegation.principal.username, delegation.delegate.username, delegation.is_active) == (
        "quinn",
        "priya",
        True,
    )


def the_demo_gates_what_matters_for_fraud():
    """A fraud model that flags nothing is 93 % accurate: the demo's default workflow (its second
    revision by the demo's administrator, which fraud-detection follows) gates the recall Signoff measures instead."""
    request = PromotionRequest.objects.get(version__model__name="fraud-detection", version__number=1)
    assert request.revision.workflow.name == "default" and request.revision.note.startswith("Fraud is rare")
    gate = CheckRun.objects.get(step__request=request, check_type="metric_threshold")
    assert gate.config["metric"] == "recall" and gate.status == "passed"
    measured = Measurement.objects.get(version=request.version)
    assert measured.metrics["recall"] >= 0.4


def the_demo_gates_what_matters_for_churn():
    """One subscriber in eight churns: the low-risk workflow gates the recall Signoff measures, and
    its fast lane reads it too. v1 finds about half of the churners (mona asked for more); v2, the
    tree model with balanced class weights she asked for, finds three in four."""

    def measured_recall(number):
        return Measurement.objects.get(version__model__name="customer-churn", version__number=number).metrics["recall"]

    for number in (1, 2):
        request = PromotionRequest.objects.get(version__model__name="customer-churn", version__number=number)
        gate = CheckRun.objects.get(step__request=request, check_type="metric_threshold")
        assert (gate.config["metric"], gate.config["source"], gate.status) == ("recall", "measured", "passed")
    assert 0.4 <= measured_recall(1) < 0.6 and measured_recall(2) >= 0.7
    fast_lane = PromotionRequest.objects.get(version__model__name="customer-churn", version__number=2).steps.get(
        kind="policy"
    )
    condition = fast_lane.config["when"]["all"]
    assert {"metric": "recall", "source": "measured", "gte": 0.7} in condition


def the_demo_has_an_emergency_release_with_its_retrospective():
    from approvals.models import EmergencyRelease

    released = EmergencyRelease.objects.select_related("request__version", "requested_by", "decided_by").get()
    assert (released.status, released.requested_by.username, released.decided_by.username) == (
        "released",
        "ivan",
        "omar",
    )
    version = released.request.version
    assert (version.model.name, version.number, version.stage) == ("fraud-detection", 4, "production")
    assert version.emergency_release
    retrospective = released.retrospective
    assert retrospective.status == "waiting" and retrospective.due_at is not None
    from approvals import permissions

    reviewers = permissions.users_who_can(permissions.DECIDE, retrospective).values_list("username", flat=True)
    assert list(reviewers) == ["mona"]


def seeding_twice_changes_nothing(capsys):
    counts = (ModelVersion.objects.count(), PromotionRequest.objects.count(), AuditEvent.objects.count())
    call_command("seed_demo")
    assert "already there" in capsys.readouterr().out
    assert (ModelVersion.objects.count(), PromotionRequest.objects.count(), AuditEvent.objects.count()) == counts


def test_the_runner_names_every_demo_account_with_its_role():
    from demo.management.commands.rundemo import account_lines
    from demo.state import ACCOUNTS

    lines = account_lines()
    assert len(lines) == len(ACCOUNTS)
    assert "  rhea   risk officer" in lines and "  admin  administrator (superuser)" in lines
    assert sum(role == "data analyst" for *_, role in ACCOUNTS) == 3  # the high-risk QA takes 2 of 3


def test_the_demo_worker_is_a_real_process_that_stops_with_the_server():
    worker = start_worker()
    try:
        time.sleep(8)  # started, past its imports (a SIGTERM before Celery's handlers are set kills it)
        assert worker.poll() is None, "the worker exited on start"
    finally:
        code = stop_worker(worker, timeout=20)
    assert worker.poll() is not None
    assert code == 0


def test_a_fresh_database_migrates_as_make_demo_does(tmp_path):
    """`make demo`'s first step on a new machine: migrate an empty SQLite database (system checks
    that read the database must not run before its tables exist)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/fresh.sqlite3", "SIGNOFF_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_make_demo_serves_its_pages_while_it_seeds_then_starts_the_worker(tmp_path):
    """`make demo` on the README's defaults (SQLite, a folder for a broker): the pages answer at
    once and say how far the seeding got; once it is complete the banner goes, the worker and
    the scheduler start (the overdue QA review's escalation is e-mailed), and SIGTERM stops all
    of it without a traceback."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    from tests.services import free_port

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"}}
    env.update(SIGNOFF_VAR_DIR=str(tmp_path), SIGNOFF_DEMO="1", PYTHONUNBUFFERED="1")
    env.pop("SIGNOFF_BASE_URL", None)
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
    migrated = subprocess.run(migrate, cwd=root, env=env, capture_output=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    port = free_port()
    output = open(tmp_path / "demo.log", "wb")
    runner = subprocess.Popen(
        [sys.executable, "manage.py", "rundemo", "--seed", "--port", str(port)],
        cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def page() -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as response:
                return response.read().decode()
        except OSError:
            return None

    def wait(condition, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            assert runner.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
            time.sleep(0.5)
        raise AssertionError(f"waited {seconds} s: " + (tmp_path / "demo.log").read_text()[-3000:])

    try:
        first = wait(page, 60)
        assert "The demo is still being prepared" in first, first
        wait(lambda: re.search(r"still being prepared: [1-9]\d* of 13 model versions", page() or ""), 120)
        wait(lambda: (body := page()) and "demo-seeding" not in body, 300)
        assert ModelVersion.objects.using("default").count() == 0  # the test database was not the one seeded
        mail = tmp_path / "sent-mail"
        escalation = wait(lambda: [p for p in mail.glob("*.log") if "overdue" in p.read_text().lower()], 60)
        assert "qa review" in escalation[0].read_text().lower()
        runner.send_signal(signal.SIGTERM)  # as a process manager stops it
        runner.wait(timeout=60)
        time.sleep(1)
        with pytest.raises(ProcessLookupError):  # the worker and the scheduler went with it
            os.killpg(runner.pid, 0)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
        output.close()
    log = (tmp_path / "demo.log").read_text()
    assert "Demo seeded." in log and "Stopped the web server, the scheduler and the worker." in log
    assert "Traceback" not in log, log[-3000:]
