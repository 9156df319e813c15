"""The whole four-role loop through the REST API, with a real Celery worker process doing the
background work on PostgreSQL and Redis, and real e-mail over SMTP."""

import json
import pickle

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.models import Scope
from accounts.services import api_token_create
from approvals.models import CheckRun, PromotionRequest
from audit.models import AuditEvent
from jobs.models import Job
from registry.models import ModelVersion
from registry.services import model_version_set_stage
from tests import factories
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, name='tests', scopes=list(Scope.values))[1]}"
    )
    return client


def upload_version(client, model_name: str, accuracy: float) -> int:
    response = client.post(
        f"/api/models/{model_name}/versions/",
        {
            "artifact": SimpleUploadedFile("model.joblib", pickle.dumps({"weights": [accuracy]})),
            "metrics": json.dumps({"accuracy": accuracy, "roc_auc": 0.93}),
            "params": json.dumps({"C": 0.5, "penalty": "l2"}),
            "lineage": json.dumps(
                {
                    "dataset_uri": "s3://datasets/credit/applications.parquet",
                    "dataset_version": "2026-11-01",
                    "code_repository": "https://git.example.com/risk/credit-model",
                    "code_commit": "9e1f0c2",
                }
            ),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()["number"]


def status_of(request_id):
    return PromotionRequest.objects.select_related("current_step").get(pk=request_id)


def waiting_at(request_id, step_name):
    request = status_of(request_id)
    return request.status == "awaiting_review" and request.current_step.name == step_name


def test_a_version_travels_from_development_to_production(people, risk_model, celery_worker_process, smtp_server):
    smtp_server.clear()
    previous = factories.make_version(model=risk_model, by=people.dana)
    with transaction.atomic():
        model_version_set_stage(version=previous, stage=ModelVersion.Stage.PRODUCTION)
    dana, mona, quinn, ivan = (client_for(p) for p in (people.dana, people.mona, people.quinn, people.ivan))
    worker = celery_worker_process
    sessions_before = database_sessions()

    number = upload_version(dana, "credit-risk", accuracy=0.91)
    response = dana.post(f"/api/models/credit-risk/versions/{number}/submit/")
    assert response.status_code == 201, response.content
    request_id = response.json()["id"]

    # The checks run in the worker process, then the manager is asked.
    wait_for(lambda: waiting_at(request_id, "manager_review"), what="the checks", worker=worker)
    assert set(CheckRun.objects.filter(step__request_id=request_id).values_list("status", flat=True)) == {"passed"}
    wait_for(lambda: smtp_server.to("mona@example.com"), what="the manager's e-mail", worker=worker)

    steps = [
        (mona, "qa_review", "Metrics beat production; go to QA."),
        (quinn, "deployment", "Shadow-scored 10k applications, no regressions."),
        (ivan, None, "Rolled out to the scoring cluster."),
    ]
    for client, next_step, comment in steps:
        response = client.post(f"/api/requests/{request_id}/decisions/", {"decision": "approve", "comment": comment})
        assert response.status_code == 201, response.content
        if next_step:
            wait_for(lambda step=next_step: waiting_at(request_id, step), what=next_step, worker=worker)

    wait_for(lambda: status_of(request_id).status == "completed", what="the deployment", worker=worker)
    version = ModelVersion.objects.get(model=risk_model, number=number)
    previous.refresh_from_db()
    assert version.stage == "production"
    assert previous.stage == "archived"

    trail = list(AuditEvent.objects.filter(request_id=request_id).order_by("pk").values_list("verb", "actor__username"))
    assert trail[0] == ("request.submitted", "dana")
    assert [actor for verb, actor in trail if verb == "decision.approve"] == ["mona", "quinn", "ivan"]
    assert ("checks.passed", None) in trail
    assert [e for e in trail if e[0] == "version.stage_changed"] == [("version.stage_changed", None)] * 3
    assert trail[-1] == ("request.completed", None)

    # Reviewers are asked, the author hears of every decision, and of the deployment with the manager.
    link = f"http://testserver/requests/{request_id}/"
    wait_for(lambda: len(smtp_server.to("dana@example.com")) >= 4, what="the author's e-mails", worker=worker)
    asked = smtp_server.to("quinn@example.com")[0]
    assert "credit-risk v%d" % number in asked["Subject"]
    assert link in asked.get_body(("plain",)).get_content()
    assert link in asked.get_body(("html",)).get_content()
    assert smtp_server.to("ivan@example.com")
    subjects = [m["Subject"] for m in smtp_server.to("dana@example.com")]
    assert sum("approved" in s for s in subjects) == 3
    assert any("is in production" in s for s in subjects)
    # Each recipient is a delivery of its own: the manager's may arrive after the author's.
    wait_for(
        lambda: any("is in production" in m["Subject"] for m in smtp_server.to("mona@example.com")),
        what="the manager's e-mail about the deployment",
        worker=worker,
    )
    assert not smtp_server.to("gary@example.com")

    # A dozen jobs ran (three checks, the conclusion of the step by the last of them, promotion,
    # deployment, seven e-mails); each worker process kept its database connection from one to
    # the next instead of opening one per job.
    jobs = Job.objects.filter(status=Job.Status.DONE).count()
    assert jobs >= 13
    assert database_sessions() - sessions_before <= 4, f"{jobs} jobs opened a connection each"


def database_sessions() -> int:
    """Sessions ever opened to the test database (PostgreSQL's statistics, read afresh)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_failing_checks_send_the_request_back_with_the_results(people, risk_model, celery_worker_process, smtp_server):
    smtp_server.clear()
    dana = client_for(people.dana)
    number = upload_version(dana, "credit-risk", accuracy=0.64)

    request_id = dana.post(f"/api/models/credit-risk/versions/{number}/submit/").json()["id"]

    worker = celery_worker_process
    wait_for(lambda: status_of(request_id).status == "checks_failed", what="the failing check", worker=worker)
    message = wait_for(lambda: smtp_server.to("dana@example.com"), what="the author's e-mail", worker=worker)[0]
    assert "failed its automated checks" in message["Subject"]
    assert "accuracy = 0.64 is below the minimum 0.8" in message.get_body(("plain",)).get_content()
    assert not smtp_server.to("mona@example.com")


def test_a_request_finishes_under_the_revision_it_started_with(people, risk_model, celery_worker_process, use_workflow):
    """Revision 2 of the workflow (saved while the request waits) drops the QA step and adds a
    policy; the request started under revision 1 still goes through QA, run by the real worker."""
    from approvals.models import Workflow
    from tests.conftest import BASIC_WORKFLOW

    dana, mona, quinn, ivan = (client_for(p) for p in (people.dana, people.mona, people.quinn, people.ivan))
    worker = celery_worker_process
    number = upload_version(dana, "credit-risk", accuracy=0.91)
    request_id = dana.post(f"/api/models/credit-risk/versions/{number}/submit/").json()["id"]
    wait_for(lambda: waiting_at(request_id, "manager_review"), what="the checks", worker=worker)
    first = status_of(request_id).revision

    basic = BASIC_WORKFLOW.read_text()
    without_qa = basic[: basic.index("  - name: qa_review")] + basic[basic.index("  - name: deployment") :]
    use_workflow(without_qa)
    assert Workflow.objects.get(name="default").latest.number == first.number + 1

    for client, next_step in ((mona, "qa_review"), (quinn, "deployment"), (ivan, None)):
        response = client.post(f"/api/requests/{request_id}/decisions/", {"decision": "approve", "comment": "ok"})
        assert response.status_code == 201, response.content
        if next_step:
            wait_for(lambda step=next_step: waiting_at(request_id, step), what=next_step, worker=worker)
    wait_for(lambda: status_of(request_id).status == "completed", what="the deployment", worker=worker)
    assert status_of(request_id).revision == first

    later = dana.post(f"/api/models/credit-risk/versions/{upload_version(dana, 'credit-risk', 0.92)}/submit/").json()
    assert PromotionRequest.objects.get(pk=later["id"]).revision.number == first.number + 1
    wait_for(lambda: waiting_at(later["id"], "manager_review"), what="the second request's checks", worker=worker)
    assert not PromotionRequest.objects.get(pk=later["id"]).steps.filter(name="qa_review").exists()
