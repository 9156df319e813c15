"""Submitting and deciding over the API: status codes tell not-allowed, not-now and bad input apart."""

import json

import pytest

from approvals import services
from approvals.models import Decision, PromotionRequest
from config.pagination import CappedPageNumberPagination, CappedPaginator
from tests import factories


@pytest.fixture
def awaiting(people, risk_model, api, background):
    factories.make_version(model=risk_model, by=people.dana)
    with background():
        response = api(people.dana).post("/api/models/credit-risk/versions/1/submit/")
    assert response.status_code == 201, response.json()
    return response.json()


def test_submitting_starts_the_checks_then_the_request_waits_for_the_manager(people, api, awaiting):
    assert (awaiting["status"], awaiting["current_step"]["name"]) == ("in_progress", "automated_checks")
    assert awaiting["url"].endswith(f"/requests/{awaiting['id']}/")
    now = api(people.dana).get(f"/api/requests/{awaiting['id']}/").json()
    assert (now["status"], now["current_step"]["name"]) == ("awaiting_review", "manager_review")


def test_the_request_shows_its_steps_checks_and_decisions(people, api, awaiting, background):
    with background():
        api(people.mona).post(f"/api/requests/{awaiting['id']}/decisions/", {"decision": "approve", "comment": "Fine."})
    body = api(people.quinn).get(f"/api/requests/{awaiting['id']}/").json()
    steps = {step["name"]: step for step in body["steps"]}
    assert {run["status"] for run in steps["automated_checks"]["check_runs"]} == {"passed"}
    assert steps["manager_review"]["decisions"][0]["actor"] == "mona"
    assert steps["qa_review"]["approvers"] == ["data analyst"]
    assert body["current_step"]["name"] == "qa_review"


def test_submitting_twice_is_409(people, api, awaiting):
    response = api(people.dana).post("/api/models/credit-risk/versions/1/submit/")
    assert response.status_code == 409
    assert "already has an open request" in response.json()["detail"]


@pytest.mark.parametrize("username, status", [("mona", 403), ("quinn", 403), ("nora", 403), ("gina", 404)])
def test_only_the_teams_data_scientists_submit(people, risk_model, api, username, status):
    factories.make_version(model=risk_model, by=people.dana)
    assert api(getattr(people, username)).post("/api/models/credit-risk/versions/1/submit/").status_code == status
    assert not PromotionRequest.objects.exists()


@pytest.mark.parametrize(
    "username, status",
    [("dana", 403), ("quinn", 403), ("ivan", 403), ("nora", 403), ("gary", 404), ("gail", 404)],
)
def test_deciding_beyond_ones_role_is_refused(people, api, awaiting, username, status):
    response = api(getattr(people, username)).post(
        f"/api/requests/{awaiting['id']}/decisions/", {"decision": "approve", "step": "manager_review"}
    )
    assert response.status_code == status
    assert not Decision.objects.exists()


def test_a_reviewer_of_a_later_step_is_told_it_has_not_started(people, api, awaiting):
    response = api(people.quinn).post(f"/api/requests/{awaiting['id']}/decisions/", {"decision": "approve"})
    assert response.status_code == 409
    assert "'QA review' has not started yet" in response.json()["detail"]
    assert not Decision.objects.exists()


def test_the_author_cannot_approve_even_holding_the_manager_role(people, api, awaiting):
    people.dana.groups.add(factories.Group.objects.get(name="manager"))
    response = api(people.dana).post(f"/api/requests/{awaiting['id']}/decisions/", {"decision": "approve"})
    assert response.status_code == 403
    assert "four-eyes" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"decision": "maybe"}, "decision"),
        ({}, "decision"),
        ({"decision": "reject"}, "comment"),
        ({"decision": "approve", "step": "nonsense"}, "step"),
    ],
)
def test_bad_decisions_are_400_and_change_nothing(people, api, awaiting, payload, field):
    response = api(people.mona).post(f"/api/requests/{awaiting['id']}/decisions/", payload)
    assert response.status_code == 400
    assert field in response.json()
    assert not Decision.objects.exists()


def test_a_decision_on_a_step_decided_meanwhile_is_409(people, api, awaiting, background):
    with background():
        api(people.mona).post(f"/api/requests/{awaiting['id']}/decisions/", {"decision": "approve"})
    response = api(people.mike).post(
        f"/api/requests/{awaiting['id']}/decisions/", {"decision": "approve", "step": "manager_review"}
    )
    assert response.status_code == 409
    assert "already decided" in response.json()["detail"]
    assert Decision.objects.count() == 1


def test_deciding_a_closed_request_is_409(people, api, awaiting):
    api(people.mona).post(f"/api/requests/{awaiting['id']}/decisions/", {"decision": "reject", "comment": "No."})
    response = api(people.mike).post(f"/api/requests/{awaiting['id']}/decisions/", {"decision": "approve"})
    assert response.status_code == 409


def test_requests_filter_by_status_and_awaiting_me(people, api, awaiting):
    assert [r["id"] for r in api(people.mona).get("/api/requests/?awaiting=me").json()["results"]] == [awaiting["id"]]
    assert api(people.quinn).get("/api/requests/?awaiting=me").json()["results"] == []
    assert api(people.dana).get("/api/requests/?awaiting=me").json()["results"] == []
    assert len(api(people.quinn).get("/api/requests/?status=awaiting_review").json()["results"]) == 1
    assert api(people.quinn).get("/api/requests/?status=completed").json()["results"] == []
    assert api(people.gary).get("/api/requests/").json()["results"] == []
    assert api(people.mona).get("/api/requests/?status=bogus").status_code == 400


@pytest.mark.parametrize("zone", ["UTC", "America/St_Johns"])
def test_a_request_in_the_list_reads_as_it_does_alone(people, api, awaiting, settings, zone):
    from approvals.api.serializers import RequestOutputSerializer

    settings.TIME_ZONE = zone

    listed = api(people.mona).get("/api/requests/?awaiting=me").json()["results"][0]
    alone = api(people.mona).get(f"/api/requests/{awaiting['id']}/").json()
    assert list(listed) == RequestOutputSerializer.Meta.fields  # the schema's fields, in order
    assert listed == {key: alone[key] for key in listed}
    assert listed["current_step"]["name"] == "manager_review" and listed["url"].endswith(f"/requests/{listed['id']}/")
    assert listed["submitted_at"].endswith("Z" if zone == "UTC" else ("-03:30", "-02:30"))


def test_the_audit_log_is_scoped_and_filterable(people, api, awaiting):
    events = api(people.quinn).get("/api/audit-events/?verb=request.submitted").json()["results"]
    assert [(e["actor"], e["model"]) for e in events] == [("dana", "credit-risk")]
    assert api(people.gary).get("/api/audit-events/").json()["results"] == []


def test_the_openapi_schema_and_docs_are_served_locally(people, api):
    client = api(people.dana)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/requests/{id}/decisions/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn" not in docs.lower()


def test_the_audit_log_pages_by_cursor_without_gaps_or_repeats(people, risk_model, api):
    from audit.services import audit_record

    for number in range(120):
        audit_record(actor=people.dana, verb="test.event", obj=risk_model, model=risk_model, data={"n": number})
    client, seen, url = api(people.mona), [], "/api/audit-events/?verb=test.event"
    while url:
        body = client.get(url).json()
        seen += [event["data"]["n"] for event in body["results"]]
        url = body["next"]
    assert seen == list(range(119, -1, -1))


def test_the_queue_counts_up_to_a_cap_and_says_when_more_wait(people, api, client, risk_model, background, monkeypatch):
    """Counting stops past the cap (the count's cost does not grow with the queue); the API says
    so with ``count_capped`` and the page with a notice; every row is still reachable by page."""
    monkeypatch.setattr(CappedPaginator, "cap", 2)
    submitted = []
    for _ in range(4):
        version = factories.make_version(model=risk_model, by=people.dana)
        with background():
            submitted.append(services.promotion_request_submit(version=version, actor=people.dana).pk)

    monkeypatch.setattr(CappedPageNumberPagination, "page_size", 2)
    first = api(people.mona).get("/api/requests/?awaiting=me").json()
    assert (first["count"], first["count_capped"]) == (3, True)
    assert [r["id"] for r in first["results"]] == submitted[::-1][:2]  # newest first
    second = api(people.mona).get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == submitted[::-1][2:]  # past the cap, still reachable
    assert second["next"] is None
    assert api(people.mona).get("/api/requests/?awaiting=me&page=3").status_code == 404

    client.force_login(people.mona)
    page = client.get("/requests/").content.decode()
    assert "More than 2 requests match" in page
    assert all(f'href="/requests/{pk}/"' in page for pk in submitted)  # 25 rows a page: all four

    mine = api(people.dana).get("/api/requests/?awaiting=me").json()
    assert (mine["count"], mine["count_capped"], mine["results"]) == (0, False, [])


def test_an_unknown_key_in_a_body_is_refused_by_name_and_writes_nothing(people, api, awaiting, risk_model):
    from approvals.models import Decision

    response = api(people.mona).post(
        f"/api/requests/{awaiting['id']}/decisions/", {"decision": "approve", "coment": "typo"}, format="json"
    )
    assert response.status_code == 400 and "'coment'" in json.dumps(response.json())
    assert not Decision.objects.exists()
    response = api(people.dana).post("/api/models/", {"name": "m2", "team": "risk", "owner": "x"}, format="json")
    assert response.status_code == 400 and "'owner'" in json.dumps(response.json())
