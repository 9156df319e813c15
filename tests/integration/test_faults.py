"""Fault tests: the worker is killed with SIGKILL at the worst moments, or the broker goes away,
and every request still reaches its correct state within 60 s, with no person running anything;
each check result, decision, audit event and e-mail exists exactly once.

Each test runs its own worker and beat processes on a broker of its own (a Redis database, or
a Redis server the test starts and stops), so the session's worker never takes their messages.
"""

import json
import shutil
import subprocess
import time
from collections import Counter

import pytest

from approvals import services
from approvals.models import CheckRun, Decision, PromotionRequest
from audit.models import AuditEvent
from config.celery import app as celery_app
from evidence.models import Measurement
from notifications.models import NotificationDelivery
from registry.models import ModelVersion
from tests import factories
from tests.approvals.test_compare import bundle
from tests.brokers import point_the_app_at
from tests.evidence.test_datasets import FEATURES, register, version_with
from tests.integration.conftest import stop_process, wait_for
from tests.services import free_port

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def killed(process, timeout=45):
    wait_for(lambda: process.poll() is not None, timeout=timeout, what="the fault to kill the worker", worker=process)
    return process.returncode


def state(request_id):
    return PromotionRequest.objects.select_related("current_step").get(pk=request_id)


def exactly_once(verb, request_id):
    return AuditEvent.objects.filter(verb=verb, request_id=request_id).count() == 1


def submit(people, model):
    return services.promotion_request_submit(
        version=factories.make_version(model=model, by=people.dana), actor=people.dana
    )


@pytest.mark.parametrize("fault", ["during_check", "before_conclude"])
def test_a_worker_killed_around_the_checks_leaves_no_request_behind(
    people, risk_model, own_broker, background_processes, smtp_server, fault
):
    smtp_server.clear()
    first = background_processes("worker", own_broker, fault=fault)
    background_processes("beat", own_broker)
    request = submit(people, risk_model)

    assert killed(first) < 0  # SIGKILL
    second = background_processes("worker", own_broker)

    wait_for(lambda: state(request.pk).status != "in_progress", timeout=60, what="the checks", worker=second)
    assert state(request.pk).status == "awaiting_review"
    runs = CheckRun.objects.filter(step__request=request)
    assert set(runs.values_list("status", flat=True)) == {"passed"}
    assert exactly_once("checks.passed", request.pk)
    assert AuditEvent.objects.filter(verb="step.started", request=request).count() == 2  # checks, manager
    wait_for(lambda: len(smtp_server.to("mona@example.com")) == 1, what="the manager's e-mail")
    time.sleep(2)  # nothing more arrives
    assert len(smtp_server.to("mona@example.com")) == len(smtp_server.to("mike@example.com")) == 1


SANDBOXED = """
name: sandboxed
steps:
  - name: automated_checks
    type: checks
    checks:
      - type: pickle_scan
      - type: reevaluate
        tolerance: 1.0
      - type: schema_compatibility
  - name: manager_review
    type: approval
    approvers: [manager]
"""


def gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped counts: it runs nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_worker_killed_while_a_sandboxed_check_runs_leaves_nothing_behind(
    people, api, risk_model, own_broker, background_processes, use_workflow, tmp_path
):
    use_workflow(SANDBOXED)
    assert register(api, people.quinn).status_code == 202  # the model's hold-out dataset
    first = background_processes("worker", own_broker, fault="during_sandbox")
    background_processes("beat", own_broker)
    version = version_with(people, risk_model, bundle(FEATURES))
    request = services.promotion_request_submit(version=version, actor=people.dana)

    assert killed(first) < 0
    # the worker's fork server, its jail and the task it was running died with it
    jailed = [int(pid) for pid in (tmp_path / "fault-during_sandbox").read_text().split()]
    assert len(jailed) >= 4  # bubblewrap, the jail's init, the fork server, the task
    wait_for(lambda: all(gone(pid) for pid in jailed), timeout=10, what="the sandbox to die with its worker")
    second = background_processes("worker", own_broker)

    wait_for(lambda: state(request.pk).status != "in_progress", timeout=60, what="the checks", worker=second)
    assert state(request.pk).status == "awaiting_review"
    runs = CheckRun.objects.filter(step__request=request)
    assert sorted(runs.values_list("check_type", "status")) == [
        ("pickle_scan", "passed"), ("reevaluate", "passed"), ("schema_compatibility", "passed")
    ]  # fmt: skip
    assert Measurement.objects.filter(version=version).count() == 1
    assert AuditEvent.objects.filter(verb="version.measured", model=risk_model).count() == 1
    assert exactly_once("checks.passed", request.pk)


def test_a_worker_killed_between_two_emails_sends_the_rest_once(
    people, risk_model, own_broker, background_processes, smtp_server
):
    smtp_server.clear()
    first = background_processes("worker", own_broker, fault="between_emails")
    background_processes("beat", own_broker)
    request = submit(people, risk_model)

    assert killed(first) < 0
    background_processes("worker", own_broker)

    wait_for(
        lambda: smtp_server.to("mona@example.com") and smtp_server.to("mike@example.com"),
        timeout=60,
        what="both managers' e-mails",
    )
    time.sleep(3)
    assert len(smtp_server.to("mona@example.com")) == len(smtp_server.to("mike@example.com")) == 1
    deliveries = NotificationDelivery.objects.filter(notification__request=request)
    assert Counter(deliveries.values_list("status", flat=True)) == {"sent": 2}


def test_a_worker_killed_during_the_deployment_deploys_once(
    people, risk_model, own_broker, background_processes, smtp_server
):
    background_processes("beat", own_broker)
    healthy = background_processes("worker", own_broker)
    request = submit(people, risk_model)
    for reviewer, step in ((people.mona, "qa_review"), (people.quinn, "deployment")):
        wait_for(lambda: state(request.pk).status == "awaiting_review", timeout=60, what="the next step")
        services.step_decide(request=state(request.pk), actor=reviewer, verdict="approve")
        wait_for(lambda s=step: state(request.pk).current_step.name == s, timeout=60, what=step)
    stop_process(healthy)
    first = background_processes("worker", own_broker, fault="during_deployment")

    services.step_decide(request=state(request.pk), actor=people.ivan, verdict="approve", comment="Go.")
    assert killed(first) < 0
    background_processes("worker", own_broker)

    wait_for(lambda: state(request.pk).status == "completed", timeout=60, what="the deployment after the kill")
    assert ModelVersion.objects.get(pk=request.version_id).stage == "production"
    assert exactly_once("request.completed", request.pk)
    assert AuditEvent.objects.filter(verb="version.stage_changed", request=request, to_state="production").count() == 1
    assert Decision.objects.filter(request=request).count() == 3


@pytest.mark.parametrize("fault", ["before_deployer", "after_deployer"])
def test_a_worker_killed_around_the_deployer_deploys_and_records_once(
    people, risk_model, own_broker, background_processes, smtp_server, use_workflow, receiver, monkeypatch, fault
):
    """SIGKILL with the approval signed but the webhook not yet sent, and again with the receiver
    answered but the stage not yet moved: the next worker finishes the deployment, recorded once.
    After the deployer answered, it is called again with the same webhook-id (receivers use it to
    tell a repeat), as the README says."""
    from approvals.models import Attestation
    from tests.approvals.test_deployments import SECRET, WORKFLOW

    hook = receiver(200)
    monkeypatch.setenv("DEPLOY_HOOK_SECRET", SECRET)  # the workers read both from the environment
    monkeypatch.setenv("SIGNOFF_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    use_workflow(WORKFLOW.format(deployer=f"{{type: webhook, url: '{hook.url}', secret_env: DEPLOY_HOOK_SECRET}}"))
    background_processes("beat", own_broker)
    healthy = background_processes("worker", own_broker)
    request = submit(people, risk_model)
    wait_for(lambda: state(request.pk).status == "awaiting_review", timeout=60, what="the manager's step")
    services.step_decide(request=state(request.pk), actor=people.mona, verdict="approve")
    wait_for(lambda: state(request.pk).current_step.name == "deployment", timeout=60, what="the deployment step")
    stop_process(healthy)
    first = background_processes("worker", own_broker, fault=fault)

    services.step_decide(request=state(request.pk), actor=people.ivan, verdict="approve", comment="Go.")
    assert killed(first) < 0
    background_processes("worker", own_broker)

    wait_for(lambda: state(request.pk).status == "completed", timeout=90, what="the deployment after the kill")
    assert ModelVersion.objects.get(pk=request.version_id).stage == "production"
    assert exactly_once("request.completed", request.pk) and exactly_once("version.attested", request.pk)
    assert AuditEvent.objects.filter(verb="version.stage_changed", request=request, to_state="production").count() == 1
    assert Attestation.objects.filter(request=request).count() == 1
    assert len(hook.received) == (1 if fault == "before_deployer" else 2)
    assert len({headers["webhook-id"] for headers, _ in hook.received}) == 1
    sent = [json.loads(body) for _, body in hook.received]
    assert all(payload["data"] == sent[0]["data"] for payload in sent)  # the same signed approval each time


def test_twenty_submissions_while_the_broker_is_down_all_finish_when_it_returns(
    people, risk_model, background_processes, tmp_path
):
    port = free_port()
    redis = [
        shutil.which("redis-server") or "/usr/bin/redis-server",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    server = subprocess.Popen([*redis, "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_publish_retry, conf.broker_connection_timeout
    try:
        time.sleep(0.5)
        background_processes("worker", url)
        background_processes("beat", url)
        server.terminate()
        server.wait(timeout=10)
        point_the_app_at(url)
        celery_app.conf.task_publish_retry, celery_app.conf.broker_connection_timeout = False, 1

        requests = [submit(people, risk_model) for _ in range(20)]  # accepted: the broker is not needed

        assert all(state(r.pk).status == "in_progress" for r in requests)
        server = subprocess.Popen([*redis, "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        wait_for(
            lambda: all(state(r.pk).status == "awaiting_review" for r in requests),
            timeout=60,
            what="the 20 submissions after the broker came back",
        )
    finally:
        celery_app.conf.broker_url, celery_app.conf.task_publish_retry, celery_app.conf.broker_connection_timeout = (
            saved
        )
        point_the_app_at(saved[0])
        server.terminate()
        server.wait(timeout=10)


def test_a_worker_killed_while_recording_a_preflight_check_leaves_it_concluded(
    people, risk_model, own_broker, background_processes
):
    """ "Check this version" survives a SIGKILL inside the transaction that records a check: the
    next worker runs it again and the pre-flight concludes once, with every check recorded once."""
    from approvals import preflight
    from approvals.models import Preflight

    first = background_processes("worker", own_broker, fault="during_preflight")
    background_processes("beat", own_broker)
    version = factories.make_version(model=risk_model, by=people.dana)
    started = preflight.preflight_start(version=version, actor=people.dana)

    assert killed(first) < 0
    second = background_processes("worker", own_broker)
    wait_for(
        lambda: Preflight.objects.get(pk=started.pk).status != "running", timeout=60, what="the pre-flight",
        worker=second,
    )  # fmt: skip
    done = Preflight.objects.get(pk=started.pk)
    assert done.status == "passed" and done.finished_at is not None
    assert set(done.checks.values_list("status", flat=True)) == {"passed"}
    assert AuditEvent.objects.filter(verb="version.preflight").count() == 1
