"""The generated access matrix (netbox style): every page and endpoint × every kind of identity ×
a model of one's own team and of another. Expectations come from one rule, written once here:

- anonymous or inactive: sent to log in (pages) or 401 (API);
- a model one does not see: 404, so its existence is not revealed;
- reading what one sees: 200;
- acting: only with the role that owns the action, on a model of one's own team (or granted);
  superuser status is no role; anyone else who sees the model gets 403.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services import api_token_create
from approvals.models import PromotionRequest
from registry.roles import DATA_ANALYST, DATA_SCIENTIST, IT_ENGINEER, MANAGER
from tests import factories

# identity: (team, roles); "root" is a superuser without roles, "max" holds three roles.
IDENTITIES = {
    "anonymous": (None, ()),
    "inactive": ("risk", (MANAGER,)),
    "nora": ("risk", ()),
    "dana": ("risk", (DATA_SCIENTIST,)),
    "mona": ("risk", (MANAGER,)),
    "quinn": ("risk", (DATA_ANALYST,)),
    "ivan": ("risk", (IT_ENGINEER,)),
    "max": ("risk", (MANAGER, DATA_ANALYST, IT_ENGINEER)),
    "gary": ("growth", (MANAGER,)),
    "root": (None, ()),
}
ACTION_ROLE = {"register": DATA_SCIENTIST, "submit": DATA_SCIENTIST, "decide": MANAGER, "rollback": IT_ENGINEER}
# Owned by a person, not a role: the one who submitted the request (dana, on her team's model).
ACTIONS = [*ACTION_ROLE, "withdraw"]


def expected(identity, team, action=None):
    own_team, roles = IDENTITIES[identity]
    if identity in ("anonymous", "inactive"):
        return "log in"
    if own_team != team and identity != "root":
        return 404
    if action is None:
        return 200
    if action == "withdraw":
        return "done" if identity == "dana" and team == "risk" else 403
    return "done" if ACTION_ROLE[action] in roles and own_team == team else 403


@pytest.fixture
def world(people, risk_model, growth_model, submit):
    """For each team's model: a request waiting for the manager (v1), a version to submit (v2),
    and a production version (v4) with an earlier one (v3) to roll back to."""
    people.max = factories.make_user("max", MANAGER, DATA_ANALYST, IT_ENGINEER, team=people.risk)
    people.inactive = factories.make_user("inactive", MANAGER, team=people.risk)
    _, people.inactive.key = api_token_create(user=people.inactive, name="before deactivation")
    people.inactive.is_active = False
    people.inactive.save(update_fields=["is_active"])
    people.root = factories.make_user("root", is_superuser=True, is_staff=True)
    world = {}
    for model, author in ((risk_model, people.dana), (growth_model, people.gina)):
        request = submit(factories.make_version(model=model, by=author), author)
        factories.make_version(model=model, by=author)  # v2, to submit
        factories.make_production_history(model=model, by=author)  # v3 earlier, v4 in production
        world[model.team.slug] = {"model": model.name, "request": PromotionRequest.objects.get(pk=request.pk)}
    return world


def client_for(identity, people, client, api):
    user = None if identity == "anonymous" else getattr(people, identity)
    if user is not None:
        client.force_login(user)
    if user is None or user.is_active:
        return client, api(user)
    api_client = api()  # the token made before the deactivation is refused like any bad credential
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {user.key}")
    return client, api_client


def check(response, outcome, *, api, done):
    if outcome == "log in":
        if api:
            assert response.status_code == 401, response.content
        else:
            assert response.status_code == 302 and response.url.startswith("/login/"), response
    elif outcome == "done":
        assert response.status_code in done, response.content[:300]
    else:
        assert response.status_code == outcome, response.content[:300]


@pytest.mark.parametrize("team", ["risk", "growth"])
@pytest.mark.parametrize("identity", IDENTITIES)
def test_reading(identity, team, world, people, client, api):
    page_client, api_client = client_for(identity, people, client, api)
    name, request = world[team]["model"], world[team]["request"]
    outcome = expected(identity, team)
    for url in (
        f"/models/{name}/",
        f"/models/{name}/versions/1/",
        f"/models/{name}/versions/1/artifact/",
        f"/requests/{request.pk}/",
    ):
        check(page_client.get(url), outcome, api=False, done=(200,))
    for url in (
        f"/api/models/{name}/",
        f"/api/models/{name}/versions/",
        f"/api/models/{name}/versions/1/",
        f"/api/models/{name}/versions/1/artifact/",
        f"/api/requests/{request.pk}/",
    ):
        check(api_client.get(url), outcome, api=True, done=(200,))


def perform(action, via, world, team, page_client, api_client):
    name, request = world[team]["model"], world[team]["request"]
    if action == "register":
        body = {
            "artifact": SimpleUploadedFile("m.joblib", factories.artifact().read()),
            "metrics": json.dumps({"accuracy": 0.9}),
        }
        if via == "page":
            return page_client.post(f"/models/{name}/versions/new/", body)
        return api_client.post(f"/api/models/{name}/versions/", body, format="multipart")
    if action == "submit":
        return (page_client if via == "page" else api_client).post(
            f"/models/{name}/versions/2/submit/" if via == "page" else f"/api/models/{name}/versions/2/submit/"
        )
    if action == "decide":
        if via == "page":
            form = {"verdict": "approve", "comment": "ok", "step": request.current_step_id}
            return page_client.post(f"/requests/{request.pk}/decide/", form)
        body = {"decision": "approve", "comment": "ok", "step": "manager_review"}
        return api_client.post(f"/api/requests/{request.pk}/decisions/", body)
    if action == "withdraw":
        if via == "page":
            return page_client.post(f"/requests/{request.pk}/withdraw/", {"reason": "Wrong dataset."})
        return api_client.post(f"/api/requests/{request.pk}/withdraw/", {"reason": "Wrong dataset."})
    if via == "page":
        form = {"comment": "Latency.", "target": 3, "confirm": "on", "production_seen": 4}
        return page_client.post(f"/models/{name}/rollback/", form)
    return api_client.post(f"/api/models/{name}/rollback/", {"comment": "Latency.", "from_version": 4})


@pytest.mark.parametrize("via", ["page", "api"])
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("team", ["risk", "growth"])
@pytest.mark.parametrize("identity", IDENTITIES)
def test_acting(identity, team, action, via, world, people, client, api):
    page_client, api_client = client_for(identity, people, client, api)
    response = perform(action, via, world, team, page_client, api_client)
    check(response, expected(identity, team, action), api=via == "api", done=(302,) if via == "page" else (200, 201))
