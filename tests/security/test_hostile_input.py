"""Bad input gets a 4xx with a clear message and writes nothing (findings 3 and 11)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import encode_multipart

from approvals.models import Decision
from audit.models import AuditEvent
from registry.models import ModelVersion, RegisteredModel
from tests import factories


def counts():
    return (RegisteredModel.objects.count(), ModelVersion.objects.count(), AuditEvent.objects.count())


def version_payload(**overrides):
    payload = {
        "artifact": SimpleUploadedFile("model.joblib", factories.artifact().read()),
        "metrics": json.dumps({"accuracy": 0.9}),
        "params": json.dumps({"C": 1.0}),
        "lineage": json.dumps({"code_commit": "abc123"}),
    }
    payload.update(overrides)
    return payload


DEEP = "[" * 100_000 + "]" * 100_000

HOSTILE_VERSIONS = {
    "NUL in a metric name": {"metrics": '{"acc\\u0000": 0.9}'},
    "lone surrogate in a metric name": {"metrics": '{"\\ud800": 0.9}'},
    "NUL in a parameter value": {"params": '{"C": "a\\u0000b"}'},
    "lone surrogate in a parameter key": {"params": '{"\\ud800": 1}'},
    "NUL in lineage": {"lineage": '{"code_commit": "a\\u0000"}'},
    "lone surrogate in lineage": {"lineage": '{"code_commit": "\\ud800"}'},
    "10**400 as a metric": {"metrics": '{"accuracy": ' + "1" + "0" * 400 + "}"},
    "1e400 as a metric": {"metrics": '{"accuracy": 1e400}'},
    "NaN as a metric": {"metrics": '{"accuracy": NaN}'},
    "params nested 100,000 deep": {"params": '{"a": ' + DEEP + "}"},
    "params nested 21 deep": {"params": '{"a": ' + "[" * 21 + "]" * 21 + "}"},
    "a 1 MB description": {"description": "x" * 1_000_000},
    "an artifact named with spaces only": {"filename": b"   "},
    "an artifact name with a path": {"filename": b"../x.bin"},
    "an artifact name with a NUL": {"filename": b"x\x00.bin"},
    "an artifact name with a control character": {"filename": b"x\x1b[31m.bin"},
}
# The page has separate lineage fields instead of one JSON object.
HOSTILE_PAGE_VERSIONS = {
    **{case: fields for case, fields in HOSTILE_VERSIONS.items() if "lineage" not in fields},
    "NUL in the code commit": {"code_commit": "a\x00b"},
}


def multipart(fields: dict) -> bytes:
    """The upload as sent by hand: Django's test helpers would clean the file name first."""
    fields = dict(fields)
    filename = fields.pop("filename", None)
    body = encode_multipart("BoUnDaRy", version_payload(**fields))
    if filename is not None:
        body = body.replace(b'filename="model.joblib"', b'filename="' + filename + b'"')
    return body


MULTIPART = "multipart/form-data; boundary=BoUnDaRy"


@pytest.mark.parametrize("case", HOSTILE_VERSIONS)
def test_hostile_version_registrations_are_refused_through_the_api(people, risk_model, api, case):
    dana = api(people.dana)
    before = counts()
    response = dana.generic(
        "POST", "/api/models/credit-risk/versions/", multipart(HOSTILE_VERSIONS[case]), content_type=MULTIPART
    )
    assert response.status_code == 400, response.content
    assert response.json()  # names the field or the problem
    assert counts() == before


@pytest.mark.parametrize("case", HOSTILE_PAGE_VERSIONS)
def test_hostile_version_registrations_are_refused_on_the_page(client, people, risk_model, case):
    client.force_login(people.dana)
    before = counts()
    body = multipart(HOSTILE_PAGE_VERSIONS[case])
    response = client.generic("POST", "/models/credit-risk/versions/new/", body, content_type=MULTIPART)
    assert response.status_code == 400
    assert counts() == before


@pytest.mark.parametrize(
    "body",
    [
        {"name": "ok-name", "team": "risk\u0000"},
        {"name": "ok-name", "team": "\ud800"},
        {"name": "ok\u0000name", "team": "risk"},
        {"name": "ok-name", "team": "risk", "description": "a\u0000b"},
    ],
)
def test_hostile_model_registrations_are_refused(people, api, body):
    dana = api(people.dana)
    before = counts()
    raw = json.dumps(body)  # \u0000 and \ud800 travel as JSON escapes
    response = dana.post("/api/models/", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert counts() == before


def test_a_json_body_nested_100000_deep_is_refused(people, api):
    response = api(people.dana).post("/api/models/", DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/models/a%00b/",
        "/models/a%00b/",
        "/audit/?model=a%00b",
        "/api/audit-events/?model=a%00b",
        "/requests/?model=%00",
        "/audit/?before=%C2%B2",
        "/api/requests/?status=nonsense",
        "/requests/?status=nonsense",
        "/requests/?view=everything",
        "/requests/?page=abc",
        "/audit/export.csv?before=-5",
    ],
)
def test_hostile_addresses_are_a_400(client, people, risk_model, url):
    client.force_login(people.mona)
    response = client.get(url)
    assert response.status_code == 400, url
    assert b"Traceback" not in response.content


def test_an_unknown_step_on_the_page_is_refused_not_applied_to_the_current_step(client, people, awaiting_manager):
    client.force_login(people.mona)
    response = client.post(f"/requests/{awaiting_manager.pk}/decide/", {"verdict": "approve", "step": 999999})
    assert response.status_code == 400
    assert "no such step" in response.content.decode()
    assert not Decision.objects.exists()


@pytest.mark.parametrize("comment", ["null \x00 byte", "x" * 1_000_000])
def test_a_hostile_rollback_reason_on_the_page_changes_nothing(client, people, risk_model, comment):
    for stage in ("archived", "production"):
        version = factories.make_version(model=risk_model, by=people.dana)
        ModelVersion.objects.filter(pk=version.pk).update(stage=stage)
    before = counts()
    client.force_login(people.ivan)
    response = client.post("/models/credit-risk/rollback/", {"comment": comment, "confirm": "on", "target": 1})
    assert response.status_code == 400
    assert counts() == before
    assert ModelVersion.objects.get(model=risk_model, stage="production").number == 2


def test_a_taken_model_name_reads_the_same_whoever_holds_it(people, risk_model, growth_model, api):
    mine = api(people.dana).post("/api/models/", {"name": "credit-risk", "team": "risk"}, format="json")
    theirs = api(people.dana).post("/api/models/", {"name": "churn", "team": "risk"}, format="json")
    assert mine.status_code == theirs.status_code == 400
    assert mine.json()["name"] == ["The name 'credit-risk' is not available; choose another."]
    assert theirs.json()["name"] == ["The name 'churn' is not available; choose another."]


def test_errors_never_show_a_debug_page(client, people, settings):
    assert settings.DEBUG is False
    client.force_login(people.mona)
    response = client.get("/models/no-such-model/")
    assert response.status_code == 404
    assert b"Signoff" in response.content and b"Traceback" not in response.content
    assert client.get("/api/models/no-such-model/").json() == {"detail": "No model called 'no-such-model'."}
