"""Who sees which page and who may act, for every persona (see tests/conftest.py).

Team Risk owns the model; team Growth must not learn it exists (404, not 403). Acting beyond
one's role is a 403; acting at the wrong time is a message, not a second decision.
"""

import pytest

from approvals.models import Decision, PromotionRequest
from tests import factories

RISK = ["dana", "mona", "mike", "quinn", "ivan", "nora"]
GROWTH = ["gina", "gary", "gail", "gus"]


@pytest.fixture
def pages(awaiting_manager):
    return [
        "/",
        "/models/",
        "/requests/",
        "/requests/?view=all",
        "/profile/",
        "/models/credit-risk/",
        "/models/credit-risk/versions/1/",
        f"/requests/{awaiting_manager.pk}/",
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(client, pages):
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/login/?next="), url


@pytest.mark.parametrize("username", RISK)
def test_the_owning_team_sees_every_page(client, people, pages, username):
    client.force_login(getattr(people, username))
    for url in pages:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("username", GROWTH)
def test_another_team_gets_404_for_the_model_and_its_requests(client, people, pages, awaiting_manager, username):
    client.force_login(getattr(people, username))
    for url in pages[-3:]:
        assert client.get(url).status_code == 404, url
    listing = client.get("/models/").content.decode()
    assert "credit-risk" not in listing
    assert "credit-risk" not in client.get("/requests/?view=all").content.decode()


@pytest.mark.parametrize(
    "username, sees_buttons",
    [("mona", True), ("mike", True), ("dana", False), ("quinn", False), ("ivan", False), ("nora", False)],
)
def test_only_reviewers_of_the_current_step_see_the_decision_buttons(
    client, people, awaiting_manager, username, sees_buttons
):
    client.force_login(getattr(people, username))
    page = client.get(f"/requests/{awaiting_manager.pk}/").content.decode()
    assert ('value="approve"' in page) is sees_buttons


@pytest.mark.parametrize(
    "username, status", [("quinn", 403), ("ivan", 403), ("nora", 403), ("dana", 403), ("gary", 404)]
)
def test_deciding_beyond_ones_role_is_refused_and_records_nothing(client, people, awaiting_manager, username, status):
    client.force_login(getattr(people, username))
    form = {"verdict": "approve", "comment": "ok", "step": awaiting_manager.current_step_id}
    response = client.post(f"/requests/{awaiting_manager.pk}/decide/", form)
    assert response.status_code == status
    assert not Decision.objects.exists()


def test_the_author_is_told_about_the_four_eyes_rule(client, people, awaiting_manager):
    client.force_login(people.dana)
    response = client.post(f"/requests/{awaiting_manager.pk}/decide/", {"verdict": "approve"})
    assert response.status_code == 403
    assert "four-eyes" in response.content.decode()


def test_a_manager_approves_and_a_second_manager_is_told_it_was_already_decided(
    client, people, awaiting_manager, background
):
    client.force_login(people.mona)
    with background():
        response = client.post(
            f"/requests/{awaiting_manager.pk}/decide/",
            {"verdict": "approve", "comment": "Good.", "step": awaiting_manager.current_step_id},
        )
    assert response.status_code == 302

    client.force_login(people.mike)
    stale_form = {"verdict": "approve", "comment": "Me too.", "step": awaiting_manager.current_step_id}
    response = client.post(f"/requests/{awaiting_manager.pk}/decide/", stale_form, follow=True)
    assert response.status_code == 200
    assert "already decided" in response.content.decode()
    assert Decision.objects.count() == 1


def test_rejecting_without_a_reason_shows_the_error_and_records_nothing(client, people, awaiting_manager):
    client.force_login(people.mona)
    response = client.post(f"/requests/{awaiting_manager.pk}/decide/", {"verdict": "reject", "comment": ""})
    assert response.status_code == 400
    assert "Say why" in response.content.decode()
    awaiting_manager.refresh_from_db()
    assert awaiting_manager.status == PromotionRequest.Status.AWAITING_REVIEW


@pytest.mark.parametrize("username, status", [("mona", 403), ("quinn", 403), ("nora", 403), ("gina", 404)])
def test_only_the_teams_data_scientists_submit_versions(client, people, risk_model, username, status):
    factories.make_version(model=risk_model, by=people.dana)
    client.force_login(getattr(people, username))
    assert client.post("/models/credit-risk/versions/1/submit/").status_code == status
    assert not PromotionRequest.objects.exists()


def test_a_data_scientist_submits_from_the_version_page(client, people, risk_model, background):
    factories.make_version(model=risk_model, by=people.dana)
    client.force_login(people.dana)
    assert "Submit for approval" in client.get("/models/credit-risk/versions/1/").content.decode()
    with background():
        response = client.post("/models/credit-risk/versions/1/submit/")
    request = PromotionRequest.objects.get()
    assert response.url == f"/requests/{request.pk}/"
    assert "Submit for approval" not in client.get("/models/credit-risk/versions/1/").content.decode()


@pytest.mark.parametrize("username, status", [("dana", 403), ("mona", 403), ("gus", 404)])
def test_only_it_engineers_roll_back(client, people, risk_model, username, status):
    client.force_login(getattr(people, username))
    assert client.post("/models/credit-risk/rollback/", {"comment": "x"}).status_code == status


def test_the_progress_partial_answers_the_pages_poll_only(client, people, awaiting_manager):
    client.force_login(people.mona)
    url = f"/requests/{awaiting_manager.pk}/progress/"
    assert client.get(url).status_code == 302
    partial = client.get(url, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert "Manager review" in partial.content.decode()
    assert "<html" not in partial.content.decode()
