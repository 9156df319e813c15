"""Registering models and versions from the pages: the same services and refusals as the API."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import ModelVersion, RegisteredModel
from tests import factories


def version_form(**overrides):
    data = {
        "artifact": SimpleUploadedFile("model.joblib", factories.artifact().read()),
        "metrics": json.dumps({"accuracy": 0.9}),
        "params": json.dumps({"C": 1}),
        "dataset_uri": "s3://d/x.parquet",
        "code_commit": "abc",
    }
    data.update(overrides)
    return data


def test_a_data_scientist_registers_a_model_and_a_version(client, people):
    client.force_login(people.dana)
    response = client.post("/models/", {"name": "churn-next", "team": people.risk.pk, "description": "Next."})
    assert response.url == "/models/churn-next/"

    response = client.post("/models/churn-next/versions/new/", version_form())
    version = ModelVersion.objects.get(model__name="churn-next")
    assert response.url == "/models/churn-next/versions/1/"
    assert (version.metrics, version.code_commit, version.created_by) == ({"accuracy": 0.9}, "abc", people.dana)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"metrics": "{accuracy: high}"}, "not valid JSON"),
        ({"metrics": json.dumps({"accuracy": "high"})}, "must be a number"),
        ({"metrics": "[0.9]"}, "Enter a JSON object"),
        ({"artifact": ""}, "This field is required"),
    ],
)
def test_bad_version_input_is_shown_and_nothing_is_written(client, people, risk_model, overrides, message):
    client.force_login(people.dana)
    response = client.post("/models/credit-risk/versions/new/", version_form(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_a_duplicate_model_name_is_refused_on_the_form(client, people, risk_model):
    client.force_login(people.dana)
    response = client.post("/models/", {"name": "credit-risk", "team": people.risk.pk})
    assert response.status_code == 400
    assert "is not available" in response.content.decode()
    assert RegisteredModel.objects.count() == 1


def test_a_data_scientist_cannot_register_for_another_team(client, people):
    client.force_login(people.dana)
    response = client.post("/models/", {"name": "sneaky", "team": people.growth.pk})
    assert response.status_code == 400  # the other team is not among her choices
    assert not RegisteredModel.objects.filter(name="sneaky").exists()


@pytest.mark.parametrize("username, status", [("mona", 403), ("quinn", 403), ("gina", 404)])
def test_other_roles_cannot_register_versions(client, people, risk_model, username, status):
    client.force_login(getattr(people, username))
    assert client.post("/models/credit-risk/versions/new/", version_form()).status_code == status
    assert not ModelVersion.objects.exists()


def test_only_data_scientists_see_the_registration_forms(client, people, risk_model):
    client.force_login(people.mona)
    assert "Register a version" not in client.get("/models/credit-risk/").content.decode()
    assert "Register a model" not in client.get("/models/").content.decode()
    assert client.post("/models/", {"name": "x", "team": people.risk.pk}).status_code == 403
    client.force_login(people.dana)
    assert "Register a version" in client.get("/models/credit-risk/").content.decode()
