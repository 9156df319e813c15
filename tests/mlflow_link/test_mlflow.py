"""MLflow, for real: a Signoff model connected to a registered model of a running ``mlflow
server``. Versions are imported (artifact, metrics, params, lineage; twice imports nothing new);
deploying moves the owned alias and a rollback moves it back; MLflow down during a deployment is
a defined failure the IT engineer retries; an alias moved outside Signoff is an incident
(audited, e-mailed, a webhook event, on the model page) and, per connection, moved back."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from mlflow import MlflowClient

from approvals import services as approvals_services
from approvals.models import PromotionRequest, StepState
from audit.models import AuditEvent
from audit.verbs import VERBS
from mlflow_link import services
from mlflow_link.models import DriftIncident, MlflowConnection, MlflowVersion
from registry.models import ModelVersion
from tests import factories
from tests.mlflow_link.conftest import log_model
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery

DEPLOY_TO_ALIAS = """
name: mlflow-gated
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
    deployer: mlflow_alias
"""

_names = iter(range(1, 10**6))


@pytest.fixture
def admin(people):
    return factories.make_user("ada", is_superuser=True, is_staff=True)


@pytest.fixture
def registered(mlflow_server):
    """A fresh MLflow registered model name with two versions logged."""
    name = f"credit-risk-{next(_names)}-{int(time.time() * 1000) % 100000}"
    log_model(mlflow_server, name, accuracy=0.91, user="dana")
    log_model(mlflow_server, name, accuracy=0.94)
    return name


def connect(admin, risk_model, server, name, **options):
    connection, _ = services.mlflow_connect(
        model=risk_model, tracking_uri=server.url, registered_model=name, actor=admin, **options
    )
    return connection


def alias_of(server, name, alias="champion"):
    client = MlflowClient(tracking_uri=server.url)
    try:
        return client.get_model_version_by_alias(name, alias).version
    except Exception:
        return None


def decide(background, request, actor, verdict="approve"):
    request.refresh_from_db()
    with background():
        approvals_services.step_decide(request=request, actor=actor, verdict=verdict, comment="Checked.")
    request.refresh_from_db()
    return request


def deploy(background, submit, people, version):
    request = submit(version, people.dana)
    request = decide(background, request, people.mona)
    return decide(background, request, people.ivan)


# --- import ------------------------------------------------------------------------------------


def test_import_brings_in_each_version_with_its_run_and_twice_creates_nothing(
    people, risk_model, admin, mlflow_server, registered, capsys, client
):
    connection = connect(admin, risk_model, mlflow_server, registered)
    call_command("mlflow_import", "--model", risk_model.name)
    assert "Imported credit-risk v1" in capsys.readouterr().out

    first, second = ModelVersion.objects.filter(model=risk_model).order_by("number")
    assert (first.metrics, first.params) == ({"accuracy": 0.91}, {"C": "0.5"})
    assert second.metrics == {"accuracy": 0.94}
    assert first.code_commit == "9c1e2f7" and first.code_repository == "https://git.example.com/risk/credit"
    client.force_login(people.dana)
    shown = client.get(first.get_absolute_url()).content.decode()
    assert 'data-testid="mlflow-source"' in shown and f"<code>{registered}</code> v1" in shown
    assert first.created_by == people.dana  # trained in MLflow by dana: she is its author here too
    assert second.created_by.username == services.SERVICE_USER and not second.created_by.is_active
    link = MlflowVersion.objects.get(version=first)
    assert (link.mlflow_version, link.connection) == (1, connection)
    assert link.run_id and link.source.startswith("models:/") and link.tags["mlflow.source.git.commit"] == "9c1e2f7"
    with first.artifact.open("rb") as stored:
        data = stored.read()
    assert hashlib.sha256(data).hexdigest() == first.artifact_sha256
    assert first.artifact.name.endswith(".skops") or first.artifact.name.endswith(".pkl")
    assert AuditEvent.objects.filter(verb="version.imported").count() == 2

    call_command("mlflow_import", "--model", risk_model.name)
    assert "Nothing new to import." in capsys.readouterr().out
    assert ModelVersion.objects.filter(model=risk_model).count() == 2

    log_model(mlflow_server, registered, accuracy=0.95)
    assert [v.number for v in services.mlflow_import(connection=connection)] == [3]


def test_an_imported_version_is_checked_like_an_upload(people, risk_model, admin, mlflow_server, registered, submit):
    connect(admin, risk_model, mlflow_server, registered)
    call_command("mlflow_import", "--model", risk_model.name)
    version = ModelVersion.objects.get(model=risk_model, number=1)
    request = submit(version, people.dana)
    assert request.status == PromotionRequest.Status.AWAITING_REVIEW
    runs = {run.check_type: run.status for run in request.steps.get(name="automated_checks").check_runs.all()}
    assert runs["pickle_scan"] == "passed" and runs["artifact_integrity"] == "passed"


def test_an_unknown_registered_model_is_a_clear_error(people, risk_model, admin, mlflow_server, capsys):
    connection = connect(admin, risk_model, mlflow_server, "no-such-model")
    assert services.mlflow_import(connection=connection) == []
    connection.refresh_from_db()
    assert connection.last_import_error == "" or "no-such-model" in connection.last_import_error
    assert not ModelVersion.objects.filter(model=risk_model).exists()


def log_mlmodel_text(server, name: str, text: str, folder) -> str:
    """Register under ``name`` a version whose ``MLmodel`` file is ``text`` (and nothing else
    readable beside it); returns the new MLflow version number."""
    import mlflow

    mlflow.set_tracking_uri(server.url)
    (folder / "MLmodel").write_text(text)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), artifact_path="model")
    client = MlflowClient(tracking_uri=server.url)
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    return str(client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id).version)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("flavors: " + "[" * 200_000 + "]" * 200_000, "its MLmodel file is nested too deeply"),
        ("flavors: " + "9" * 5000, "its MLmodel file holds a value that cannot be read"),
    ],
)
def test_a_version_whose_mlmodel_cannot_be_read_is_skipped_with_why_and_the_next_imports(
    people, risk_model, admin, mlflow_server, tmp_path, text, problem
):
    """Once, 400 KB of brackets in one version's MLmodel raised RecursionError out of the import:
    that version and every later one never came in, at each retry."""
    name = f"hostile-{next(_names)}-{int(time.time() * 1000) % 100000}"
    bad = log_mlmodel_text(mlflow_server, name, text, tmp_path)
    good = log_model(mlflow_server, name)
    connection = connect(admin, risk_model, mlflow_server, name)
    imported = services.mlflow_import(connection=connection)
    assert [MlflowVersion.objects.get(version=version).mlflow_version for version in imported] == [int(good)]
    connection.refresh_from_db()
    assert connection.last_import_error == f"MLflow v{bad}: {problem}"


def test_mlflow_away_is_worth_another_try(people, risk_model, admin):
    from jobs.runner import TransientError

    connection = connect(admin, risk_model, type("S", (), {"url": "http://127.0.0.1:9"})(), "credit-risk")
    with pytest.raises(TransientError, match="could not be reached"):
        services.mlflow_import(connection=connection)


# --- the owned alias ---------------------------------------------------------------------------


def test_deploying_moves_the_alias_and_a_rollback_moves_it_back(
    people, risk_model, admin, mlflow_server, registered, use_workflow, submit, background
):
    connect(admin, risk_model, mlflow_server, registered)
    use_workflow(DEPLOY_TO_ALIAS)
    services.mlflow_import(connection=MlflowConnection.objects.get())
    first, second = ModelVersion.objects.filter(model=risk_model).order_by("number")

    assert deploy(background, submit, people, first).status == PromotionRequest.Status.COMPLETED
    assert alias_of(mlflow_server, registered) == "1"
    request = deploy(background, submit, people, second)
    assert request.status == PromotionRequest.Status.COMPLETED
    assert alias_of(mlflow_server, registered) == "2"
    log = request.steps.get(name="deployment").result["deployment"]["log"]
    assert f"{registered}@champion → version 2" in log

    with background():
        approvals_services.model_rollback(model=risk_model, actor=people.ivan, comment="Latency regression.")
    assert alias_of(mlflow_server, registered) == "1"
    assert AuditEvent.objects.filter(verb="mlflow.alias_set").exists()


def test_mlflow_down_during_a_deployment_fails_it_and_a_retry_succeeds(
    people, risk_model, admin, own_mlflow_server, use_workflow, submit, background
):
    name = "fraud"
    log_model(own_mlflow_server, name)
    connect(admin, risk_model, own_mlflow_server, name)
    use_workflow(DEPLOY_TO_ALIAS)
    services.mlflow_import(connection=MlflowConnection.objects.get())
    version = ModelVersion.objects.get(model=risk_model)
    request = decide(background, submit(version, people.dana), people.mona)

    own_mlflow_server.stop()
    request = decide(background, request, people.ivan)
    step = request.steps.get(name="deployment")
    assert (request.status, step.status) == (PromotionRequest.Status.AWAITING_REVIEW, StepState.Status.WAITING)
    assert "The deployment failed" in step.note and "could not be reached" in step.note
    version.refresh_from_db()
    assert version.stage != "production"

    own_mlflow_server.start()
    request = decide(background, request, people.ivan)
    assert request.status == PromotionRequest.Status.COMPLETED
    assert alias_of(own_mlflow_server, name) == "1"


def test_a_version_not_from_mlflow_cannot_be_deployed_to_the_alias(
    people, risk_model, admin, mlflow_server, registered, use_workflow, submit, background
):
    connect(admin, risk_model, mlflow_server, registered)
    use_workflow(DEPLOY_TO_ALIAS)
    uploaded = factories.make_version(model=risk_model, by=people.dana)
    request = deploy(background, submit, people, uploaded)
    assert "was not imported from MLflow" in request.steps.get(name="deployment").note
    assert alias_of(mlflow_server, registered) is None


# --- drift -------------------------------------------------------------------------------------


def test_an_alias_moved_outside_signoff_is_an_incident_told_and_moved_back(
    people, risk_model, admin, mlflow_server, registered, use_workflow, submit, background, client, settings
):
    connection = connect(admin, risk_model, mlflow_server, registered, revert_drift=True)
    settings.SIGNOFF_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    webhook_services.webhook_endpoint_create(url="http://127.0.0.1:9/hook", events=["model.production_drift"],
                                             actor=admin)  # fmt: skip
    use_workflow(DEPLOY_TO_ALIAS)
    services.mlflow_import(connection=connection)
    deploy(background, submit, people, ModelVersion.objects.get(model=risk_model, number=1))
    assert services.drift_check(connection=connection) is None  # in line: nothing to say

    MlflowClient(tracking_uri=mlflow_server.url).set_registered_model_alias(registered, "champion", "2")
    mail.outbox.clear()
    with background():
        incident = services.drift_check(connection=connection)
    assert (incident.alias_version, incident.expected_version) == ("2", "1")
    assert AuditEvent.objects.filter(verb="model.production_drift").count() == 1
    assert alias_of(mlflow_server, registered) == "1"  # moved back
    incident.refresh_from_db()
    assert incident.reverted_at is not None and AuditEvent.objects.filter(verb="mlflow.alias_reverted").exists()
    told = sorted(address for message in mail.outbox for address in message.to)
    assert told == sorted([people.ivan.email, people.mona.email, people.mike.email])
    assert "was moved outside Signoff" in mail.outbox[0].subject
    assert f"{registered}@champion" in mail.outbox[0].body
    delivery = WebhookDelivery.objects.get(event="model.production_drift")
    assert delivery.payload["data"]["alias_version"] == "2"

    client.force_login(people.ivan)
    page = client.get(risk_model.get_absolute_url()).content.decode()
    assert 'data-testid="drift-incident"' not in page  # moved back: no longer an open incident
    assert "@champion → v2 (expected v1) · moved back · resolved" in page
    assert incident.resolved_at is not None
    assert services.drift_check(connection=connection) is None  # in line
    written = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"mlflow.connected", "version.imported", "model.production_drift", "mlflow.alias_reverted"} <= written
    assert written <= set(VERBS), "a verb missing from the audit log's vocabulary"


def test_without_revert_the_incident_stays_open_and_is_not_told_twice(
    people, risk_model, admin, mlflow_server, registered, background, client
):
    connection = connect(admin, risk_model, mlflow_server, registered)
    services.mlflow_import(connection=connection)
    MlflowClient(tracking_uri=mlflow_server.url).set_registered_model_alias(registered, "champion", "1")
    with background():
        first = services.drift_check(connection=connection)
        again = services.drift_check(connection=connection)
    assert first is not None and again is None
    assert (first.alias_version, first.expected_version) == ("1", "")  # nothing is in production in Signoff
    assert alias_of(mlflow_server, registered) == "1"  # left as it is
    assert DriftIncident.objects.filter(resolved_at__isnull=True).count() == 1
    client.force_login(people.ivan)
    assert 'data-testid="drift-incident"' in client.get(risk_model.get_absolute_url()).content.decode()
    assert sorted(address for message in mail.outbox for address in message.to) == sorted(
        [people.ivan.email, people.mona.email, people.mike.email]
    )  # once: the second check found the same incident
    assert AuditEvent.objects.filter(verb="model.production_drift").count() == 1


# --- MLflow's webhook --------------------------------------------------------------------------


def signed(secret, body: bytes, *, when=None):
    timestamp = str(int(when if when is not None else time.time()))
    delivery = "d-1"
    mac = hmac.new(secret.encode(), f"{delivery}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"HTTP_X_MLFLOW_DELIVERY_ID": delivery, "HTTP_X_MLFLOW_TIMESTAMP": timestamp,
            "HTTP_X_MLFLOW_SIGNATURE": "v1," + base64.b64encode(mac).decode()}  # fmt: skip


def test_the_webhook_imports_only_when_signed(people, risk_model, admin, mlflow_server, registered, client):
    connection, secret = services.mlflow_connect(model=risk_model, tracking_uri=mlflow_server.url,
                                                 registered_model=registered, actor=admin)  # fmt: skip
    url = f"/mlflow/webhooks/{connection.pk}/"
    body = json.dumps({"entity": "model_version", "action": "created", "data": {"name": registered, "version": "2"}})
    body = body.encode()
    from jobs.models import Job

    Job.objects.all().delete()
    assert client.post(url, body, content_type="application/json").status_code == 401
    assert client.post(url, body, content_type="application/json", **signed("wrong", body)).status_code == 401
    stale = signed(secret, body, when=time.time() - 3600)
    assert client.post(url, body, content_type="application/json", **stale).status_code == 401
    assert not Job.objects.exists()
    other = json.dumps({"entity": "model_version", "action": "created", "data": {"name": "another"}}).encode()
    assert client.post(url, other, content_type="application/json", **signed(secret, other)).status_code == 400
    assert client.post(url, body, content_type="application/json", **signed(secret, body)).status_code == 202
    assert Job.objects.filter(kind="mlflow_import", target_id=connection.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_mlflows_own_webhook_triggers_the_import_at_once(people, risk_model, admin, own_mlflow_server, live_server,
                                                          eager_tasks, settings):  # fmt: skip
    """On a server of its own: MLflow caches which webhooks an event has for a minute."""
    mlflow_server = own_mlflow_server
    name = f"churn-live-{next(_names)}"
    connection, secret = services.mlflow_connect(model=risk_model, tracking_uri=mlflow_server.url,
                                                 registered_model=name, actor=admin)  # fmt: skip
    settings.SIGNOFF_MLFLOW_POLL_SECONDS = 3600  # not the sweep: the webhook
    client = MlflowClient(tracking_uri=mlflow_server.url)
    client.create_registered_model(name)
    client.create_webhook(name=f"signoff-{next(_names)}", url=f"{live_server.url}/mlflow/webhooks/{connection.pk}/",
                          events=["model_version.created"], secret=secret)  # fmt: skip
    log_model(mlflow_server, name)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ModelVersion.objects.filter(model=risk_model).exists():
        time.sleep(0.5)
    assert ModelVersion.objects.filter(model=risk_model).count() == 1


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("tracking_uri", "file:///var/lib/mlflow", "file:"),
        ("tracking_uri", "http://169.254.169.254/", "link-local"),
        ("tracking_uri", "http://mlflow.internal/\x00", "control characters"),
        ("tracking_uri", "http://mlflow.internal/\ud800", "control characters"),
        ("tracking_uri", "http://" + "a" * 1_000_000, "at most 2000"),
        ("tracking_uri", "http://user:pw@mlflow.internal/", "no user name"),
        ("registered_model", "credit\x00risk", "registered_model"),
        ("registered_model", "x" * 1_000_000, "256"),
        ("alias", "latest", "reserves"),
        ("alias", "v3", "reserves"),
        ("alias", "champion!", "letters, digits"),
        ("alias", "\ud800", "letters, digits"),
    ],
)
def test_bad_connections_are_refused_and_write_nothing(people, risk_model, admin, field, value, problem):
    given = {"tracking_uri": "http://127.0.0.1:5000", "registered_model": "credit-risk", "alias": "champion"}
    given[field] = value
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as refused:
        services.mlflow_connect(model=risk_model, actor=admin, **given)
    assert problem in str(refused.value)
    assert not MlflowConnection.objects.exists() and AuditEvent.objects.count() == events


def test_only_administrators_connect(people, risk_model, api):
    with pytest.raises(PermissionDenied):
        services.mlflow_connect(model=risk_model, tracking_uri="http://127.0.0.1:5000", registered_model="m",
                                actor=people.ivan)  # fmt: skip
    response = api(people.ivan).post(
        f"/api/models/{risk_model.name}/mlflow/",
        {"tracking_uri": "http://127.0.0.1:5000", "registered_model": "m"},
        format="json",
    )
    assert response.status_code == 403 and not MlflowConnection.objects.exists()


def test_the_api_connects_and_shows_the_secret_once(people, risk_model, admin, api):
    response = api(admin).post(f"/api/models/{risk_model.name}/mlflow/",
                               {"tracking_uri": "http://127.0.0.1:5000", "registered_model": "credit-risk"},
                               format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["alias"] == "champion" and len(body["webhook_secret"]) > 30
    assert body["webhook_url"].endswith(f"/mlflow/webhooks/{body['id']}/")
    shown = api(people.ivan).get(f"/api/models/{risk_model.name}/mlflow/").json()
    assert "webhook_secret" not in shown and shown["registered_model"] == "credit-risk"
    again = api(admin).post(
        f"/api/models/{risk_model.name}/mlflow/",
        {"tracking_uri": "http://127.0.0.1:5000", "registered_model": "x"},
        format="json",
    )
    assert again.status_code == 400 and "already connected" in again.content.decode()


@pytest.mark.parametrize(
    "body",
    [{"tracking_uri": "http://169.254.169.254/", "registered_model": "m"},
     {"tracking_uri": "file:///etc/passwd", "registered_model": "m"},
     {"tracking_uri": "http://mlflow.internal/\x00", "registered_model": "m"},
     {"tracking_uri": "http://mlflow.internal/\ud800", "registered_model": "m"},
     {"tracking_uri": "http://mlflow.internal/", "registered_model": "m" * 1_000_000},
     {"tracking_uri": "http://mlflow.internal/", "registered_model": "m", "alias": "x" * 101},
     {"tracking_uri": "http://mlflow.internal/", "registered_model": "m", "revert_drift": "1e400"},
     {"tracking_uri": "http://mlflow.internal/", "registered_model": "m", "token": "secret"},
     {"tracking_uri": ["http://mlflow.internal/"], "registered_model": "m"}],
)  # fmt: skip
def test_bad_connections_through_the_api_are_400s_and_write_nothing(people, risk_model, admin, api, body):
    raw = json.dumps(body)  # ASCII: a lone surrogate travels as \ud800, as a hostile client sends it
    response = api(admin).post(f"/api/models/{risk_model.name}/mlflow/", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert not MlflowConnection.objects.exists()
