"""The API says things the way the pages do, where a client exposes it: a step is named by its
name in both; a rollback takes the page's ``production_seen``; a request shows what it resubmits;
a version can be registered as the fix of an earlier one; tokens are created and revoked through
the API, with the password or a token of the same person."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import ApiToken, Scope
from accounts.services import api_token_create
from approvals import services
from approvals.models import Decision
from audit.models import AuditEvent
from tests import factories


def test_the_page_and_the_api_name_the_step_alike(people, awaiting_manager, client, api, background):
    client.force_login(people.mona)
    page = client.get(awaiting_manager.get_absolute_url()).content.decode()
    assert '<input type="hidden" name="step" value="manager_review">' in page
    with background():
        response = client.post(f"/requests/{awaiting_manager.pk}/decide/",
                               {"verdict": "approve", "step": "manager_review", "comment": "Fine."})  # fmt: skip
    assert response.status_code == 302
    assert Decision.objects.get(step__name="manager_review").actor == people.mona

    awaiting_manager.refresh_from_db()
    response = api(people.quinn).post(f"/api/requests/{awaiting_manager.pk}/decisions/",
                                      {"verdict": "approve", "step": "qa_review"}, format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    assert Decision.objects.get(step__name="qa_review").actor == people.quinn


def test_a_page_rendered_before_names_still_decides_by_the_steps_id(people, awaiting_manager, client):
    client.force_login(people.mona)
    step = awaiting_manager.steps.get(name="manager_review")
    response = client.post(f"/requests/{awaiting_manager.pk}/decide/",
                           {"verdict": "approve", "step": str(step.pk), "comment": "Fine."})  # fmt: skip
    assert response.status_code == 302 and Decision.objects.filter(step=step).exists()


@pytest.mark.parametrize("step", ["no_such_step", "99999999", "x" * 51, "manager_review\x00"])
def test_a_step_that_is_not_there_is_refused_and_writes_nothing(people, awaiting_manager, api, step):
    response = api(people.mona).post(f"/api/requests/{awaiting_manager.pk}/decisions/",
                                     {"decision": "approve", "step": step}, format="json")  # fmt: skip
    assert response.status_code == 400 and not Decision.objects.exists()


def test_decision_and_verdict_must_agree(people, awaiting_manager, api):
    response = api(people.mona).post(f"/api/requests/{awaiting_manager.pk}/decisions/",
                                     {"decision": "approve", "verdict": "reject"}, format="json")  # fmt: skip
    assert response.status_code == 400 and not Decision.objects.exists()
    response = api(people.mona).post(f"/api/requests/{awaiting_manager.pk}/decisions/", {}, format="json")
    assert response.status_code == 400 and "decision" in response.json()


def test_rollback_takes_the_pages_field(people, risk_model, api):
    earlier, current = factories.make_production_history(model=risk_model, by=people.dana)
    url = f"/api/models/{risk_model.name}/rollback/"
    stale = api(people.ivan).post(url, {"comment": "Latency.", "production_seen": earlier.number}, format="json")
    assert stale.status_code == 409
    both = api(people.ivan).post(
        f"/api/models/{risk_model.name}/rollback/",
        {"comment": "Latency.", "production_seen": current.number, "from_version": earlier.number}, format="json",
    )  # fmt: skip
    assert both.status_code == 400
    response = api(people.ivan).post(url, {"comment": "Latency.", "production_seen": current.number}, format="json")
    assert response.status_code == 200 and response.json()["number"] == earlier.number


def test_a_resubmission_says_what_it_resubmits(people, risk_model, submit, background, api):
    first = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    with background():
        services.step_decide(request=first, actor=people.mona, verdict="request_changes", comment="Card.")
    fixed = factories.make_version(model=risk_model, by=people.dana, derived_from=first.version)
    second = submit(fixed, people.dana)
    body = api(people.dana).get(f"/api/requests/{second.pk}/").json()
    assert body["resubmission_of"] == first.pk
    assert api(people.dana).get(f"/api/requests/{first.pk}/").json()["resubmission_of"] is None


def _upload(api, user, name, **extra):
    fields = {"artifact": SimpleUploadedFile("model.pkl", factories.artifact().read()),
              "metrics": json.dumps({"accuracy": 0.9}), **extra}  # fmt: skip
    return api(user).post(f"/api/models/{name}/versions/", fields, format="multipart")


def test_a_version_registers_as_the_fix_of_an_earlier_one(people, risk_model, api):
    first = _upload(api, people.dana, risk_model.name)
    assert first.status_code == 201 and first.json()["derived_from"] is None
    fix = _upload(api, people.dana, risk_model.name, derived_from="1")
    assert fix.status_code == 201 and fix.json()["derived_from"] == 1
    listed = api(people.dana).get(f"/api/models/{risk_model.name}/versions/").json()["results"]
    assert [v["derived_from"] for v in listed] == [1, None]


@pytest.mark.parametrize("derived_from", ["7", "0", "1e400", str(10**400), "-1", "\x00"])
def test_a_fix_of_a_version_that_is_not_there_is_refused(people, risk_model, api, derived_from):
    response = _upload(api, people.dana, risk_model.name, derived_from=derived_from)
    assert response.status_code == 400 and "derived_from" in response.content.decode()
    assert not risk_model.versions.exists()


# --- tokens ------------------------------------------------------------------------------------


def test_a_token_is_created_with_the_password_and_revoked(people, client):
    people.dana.set_password("correct horse battery")
    people.dana.save()
    response = client.post("/api/tokens/", {"name": "CI", "username": "dana", "password": "correct horse battery",
                                            "scopes": ["read", "submit"]}, content_type="application/json")  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["key"].startswith("so_") and body["scopes"] == ["read", "submit"]
    auth = {"HTTP_AUTHORIZATION": f"Token {body['key']}"}
    listed = client.get("/api/tokens/", **auth).json()["results"]
    assert [token["name"] for token in listed] == ["CI"] and "key" not in listed[0]
    assert client.delete(f"/api/tokens/{body['id']}/", **auth).status_code == 204
    assert client.get("/api/tokens/", **auth).status_code == 401  # revoked: it no longer works
    assert AuditEvent.objects.filter(verb__in=["token.created", "token.revoked"]).count() == 2


def test_a_wrong_password_creates_nothing(people, client):
    response = client.post("/api/tokens/", {"name": "CI", "username": "dana", "password": "guess"},
                           content_type="application/json")  # fmt: skip
    assert response.status_code in (401, 403) and not ApiToken.objects.exists()


def test_a_token_mints_tokens_with_no_more_scopes_than_its_own(people, api, client):
    _, key = api_token_create(user=people.dana, name="pipeline", scopes=[Scope.READ, Scope.SUBMIT])
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    wider = client.post("/api/tokens/", {"name": "more", "scopes": ["read", "deploy"]},
                        content_type="application/json", **auth)  # fmt: skip
    assert wider.status_code == 403 and ApiToken.objects.count() == 1
    same = client.post("/api/tokens/", {"name": "rotated"}, content_type="application/json", **auth)
    assert same.status_code == 201 and same.json()["scopes"] == ["read", "submit"]


def test_nobody_revokes_someone_elses_token(people, api):
    theirs, _ = api_token_create(user=people.mona, name="mona's")
    assert api(people.dana).delete(f"/api/tokens/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


@pytest.mark.parametrize(
    "body",
    [{"name": "\x00"}, {"name": "x" * 1_000_000}, {"name": "CI", "days": 10**400}, {"name": "CI", "days": 0},
     {"name": "CI", "scopes": ["admin"]}, {"name": "CI", "scopes": []}, {"name": "CI", "extra": 1}],
)  # fmt: skip
def test_bad_token_requests_are_refused(people, api, body):
    response = api(people.dana).post("/api/tokens/", body, format="json")
    assert response.status_code == 400 and ApiToken.objects.count() == 1  # the caller's own
