"""Registering models and versions over the API, and the refusals of bad input."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import encode_multipart

from registry.models import ModelVersion, RegisteredModel
from tests import factories


def version_payload(**overrides):
    payload = {
        "artifact": SimpleUploadedFile("model.joblib", factories.artifact().read()),
        "metrics": json.dumps({"accuracy": 0.91, "f1": 0.87}),
        "params": json.dumps({"n_estimators": 200}),
        "lineage": json.dumps(
            {
                "dataset_uri": "s3://d/churn.parquet",
                "dataset_version": "v7",
                "code_repository": "https://git.example.com/churn",
                "code_commit": "abc123",
            }
        ),
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def test_a_data_scientist_registers_a_model_with_a_token(people, api):
    response = api(people.dana).post("/api/models/", {"name": "churn-v2", "team": "risk", "description": "Churn."})

    assert response.status_code == 201, response.json()
    assert response.json()["team"] == "risk"
    assert RegisteredModel.objects.get(name="churn-v2").created_by == people.dana


def test_anonymous_callers_are_refused(db, api):
    assert api().get("/api/models/").status_code in (401, 403)


def test_a_version_is_uploaded_with_metrics_params_and_lineage(people, risk_model, api):
    response = api(people.dana).post("/api/models/credit-risk/versions/", version_payload(), format="multipart")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == 1
    assert body["metrics"] == {"accuracy": 0.91, "f1": 0.87}
    assert body["lineage"]["code_commit"] == "abc123"
    assert len(body["artifact_sha256"]) == 64
    detail = api(people.mona).get("/api/models/credit-risk/versions/1/")
    assert detail.status_code == 200
    assert detail.json()["artifact_sha256"] == body["artifact_sha256"]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"metrics": json.dumps({"accuracy": "high"})}, "metrics"),
        ({"metrics": '{"accuracy": NaN}'}, "metrics"),
        ({"metrics": "not json"}, "metrics"),
        ({"metrics": None}, "metrics"),
        ({"artifact": None}, "artifact"),
        ({"params": "[1, 2]"}, "params"),
        ({"metrics": "[]"}, "metrics"),
        ({"params": "[]"}, "params"),
        ({"metrics": '{"accuracy": 1e400}'}, "metrics"),
        ({"metrics": '{"accuracy": ' + "9" * 400 + "}"}, "metrics"),
        ({"lineage": json.dumps({"dataset": "x"})}, "lineage"),
    ],
)
def test_bad_version_input_is_a_400_naming_the_field_and_writes_nothing(people, risk_model, api, overrides, field):
    response = api(people.dana).post(
        "/api/models/credit-risk/versions/", version_payload(**overrides), format="multipart"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert not ModelVersion.objects.exists()


def test_an_artifact_over_the_size_limit_is_refused(people, risk_model, api, settings):
    settings.SIGNOFF_MAX_ARTIFACT_BYTES = 5
    response = api(people.dana).post("/api/models/credit-risk/versions/", version_payload(), format="multipart")

    assert response.status_code == 400
    assert "limit is 5 bytes" in response.json()["artifact"][0]
    assert not ModelVersion.objects.exists()


def test_an_artifact_name_with_a_path_is_refused(people, risk_model, api):
    # Written by hand: Django's own upload helpers would strip the path before sending it.
    body = encode_multipart("BoUnDaRy", version_payload()).replace(
        b'filename="model.joblib"', b'filename="../../etc/evil.pkl"'
    )

    response = api(people.dana).generic(
        "POST", "/api/models/credit-risk/versions/", body, content_type="multipart/form-data; boundary=BoUnDaRy"
    )

    assert response.status_code == 400
    assert "without a path" in response.json()["artifact"][0]
    assert not ModelVersion.objects.exists()


def test_duplicate_and_invalid_model_names_are_refused(people, risk_model, api):
    for name in ("credit-risk", "Bad Name!", ""):
        response = api(people.dana).post("/api/models/", {"name": name, "team": "risk"})
        assert response.status_code == 400
        assert "name" in response.json()
    assert api(people.dana).post("/api/models/", {"name": "x", "team": "nope"}).status_code == 400
    assert RegisteredModel.objects.count() == 1


def test_versions_list_newest_first(people, risk_model, api):
    for _ in range(3):
        factories.make_version(model=risk_model, by=people.dana)
    body = api(people.quinn).get("/api/models/credit-risk/versions/").json()
    assert [v["number"] for v in body["results"]] == [3, 2, 1]
