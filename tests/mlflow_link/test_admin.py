"""MLflow connections in the admin: added and changed through the services (audited, the webhook
secret shown once), bad input refused with nothing written, incidents and imports read-only."""

import pytest
from django.contrib.messages import get_messages

from audit.models import AuditEvent
from mlflow_link.models import MlflowConnection
from tests import factories


@pytest.fixture
def admin_client(client, people):
    client.force_login(factories.make_user("ada", is_superuser=True, is_staff=True))
    return client


def form(model, **changes):
    return {"model": model.pk, "tracking_uri": "http://10.2.0.7:5000", "registered_model": "credit-risk",
            "alias": "champion", "active": "on", **changes}  # fmt: skip


def test_an_administrator_connects_a_model_and_sees_the_secret_once(admin_client, risk_model):
    assert admin_client.get("/admin/mlflow_link/mlflowconnection/add/").status_code == 200
    response = admin_client.post("/admin/mlflow_link/mlflowconnection/add/", form(risk_model))
    assert response.status_code == 302
    connection = MlflowConnection.objects.get()
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert any(connection.webhook_secret in text and "shown only now" in text for text in said)
    assert AuditEvent.objects.filter(verb="mlflow.connected").count() == 1
    change = f"/admin/mlflow_link/mlflowconnection/{connection.pk}/change/"
    assert connection.webhook_secret in admin_client.get(change).content.decode()  # the message, this once
    assert connection.webhook_secret not in admin_client.get(change).content.decode()

    response = admin_client.post(f"/admin/mlflow_link/mlflowconnection/{connection.pk}/change/",
                                 form(risk_model, alias="production", revert_drift="on"))  # fmt: skip
    assert response.status_code == 302
    connection.refresh_from_db()
    assert (connection.alias, connection.revert_drift) == ("production", True)
    changed = AuditEvent.objects.get(verb="mlflow.changed")
    assert changed.data["before"]["alias"] == "champion" and changed.data["after"]["alias"] == "production"


@pytest.mark.parametrize(
    "changes",
    [{"tracking_uri": "http://169.254.169.254/"}, {"tracking_uri": "file:///etc/passwd"},
     {"alias": "latest"}, {"registered_model": "credit\x00risk"}],
)  # fmt: skip
def test_bad_input_is_refused_and_writes_nothing(admin_client, risk_model, changes):
    response = admin_client.post("/admin/mlflow_link/mlflowconnection/add/", form(risk_model, **changes))
    # refused in the form, or (a NUL) before it by the middleware that refuses unstorable input
    assert (response.status_code, b"errornote" in response.content) in ((200, True), (400, False))
    assert not MlflowConnection.objects.exists() and not AuditEvent.objects.filter(verb__startswith="mlflow.").exists()


@pytest.mark.parametrize("url", ["/admin/mlflow_link/mlflowversion/", "/admin/mlflow_link/driftincident/"])
def test_imports_and_incidents_are_listed_read_only(admin_client, url):
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url + "add/").status_code == 403
