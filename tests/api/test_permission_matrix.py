"""Each role × each action, on a model of one's own team and of another team, through the API.

Own team: the role that owns the action succeeds, every other role gets 403.
Other team: everything is 404 — the model's existence is not revealed.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from approvals import services
from tests import factories

ROLES = {"data scientist": "dana", "manager": "mona", "data analyst": "quinn", "IT engineer": "ivan"}
OTHER_TEAM = {"data scientist": "gina", "manager": "gary", "data analyst": "gail", "IT engineer": "gus"}
ACTIONS = {
    # action: (the role allowed, the success status)
    "read model": ("*", 200),
    "list versions": ("*", 200),
    "upload version": ("data scientist", 201),
    "submit": ("data scientist", 201),
    "decide manager review": ("manager", 201),
    "decide QA review": ("data analyst", 201),
    "deploy": ("IT engineer", 201),
    "roll back": ("IT engineer", 200),
    "read request": ("*", 200),
}


def reach(people, model, background, step):
    """A request of ``model`` (submitted by its team's data scientist) waiting at ``step``."""
    author = people.dana if model.team == people.risk else people.gina
    reviewers = {"manager_review": [], "qa_review": ["mona"], "deployment": ["mona", "quinn"]}[step]
    version = factories.make_version(model=model, by=author)
    with background():
        request = services.promotion_request_submit(version=version, actor=author)
    for name in reviewers:
        reviewer = getattr(people, name if model.team == people.risk else {"mona": "gary", "quinn": "gail"}[name])
        request.refresh_from_db()
        with background():
            services.step_decide(request=request, actor=reviewer, verdict="approve")
    return request


def perform(action, client, people, model, background):
    name = model.name
    if action == "read model":
        return client.get(f"/api/models/{name}/")
    if action == "list versions":
        return client.get(f"/api/models/{name}/versions/")
    if action == "upload version":
        return client.post(
            f"/api/models/{name}/versions/",
            {
                "artifact": SimpleUploadedFile("m.joblib", factories.artifact().read()),
                "metrics": json.dumps({"accuracy": 0.9}),
            },
            format="multipart",
        )
    if action == "submit":
        author = people.dana if model.team == people.risk else people.gina
        version = factories.make_version(model=model, by=author)
        return client.post(f"/api/models/{name}/versions/{version.number}/submit/")
    if action == "roll back":
        factories.make_production_history(model=model, by=people.dana if model.team == people.risk else people.gina)
        return client.post(f"/api/models/{name}/rollback/", {"comment": "Latency regression."})
    step = {
        "decide manager review": "manager_review",
        "decide QA review": "qa_review",
        "deploy": "deployment",
        "read request": "manager_review",
    }[action]
    request = reach(people, model, background, step)
    if action == "read request":
        return client.get(f"/api/requests/{request.pk}/")
    return client.post(f"/api/requests/{request.pk}/decisions/", {"decision": "approve", "comment": "ok", "step": step})


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("team", ["own", "other"])
def test_permission_matrix(people, risk_model, growth_model, api, background, action, role, team):
    actor = getattr(people, ROLES[role])
    model = risk_model if team == "own" else growth_model
    allowed_role, success = ACTIONS[action]
    if team == "other":
        expected = 404
    elif allowed_role in ("*", role):
        expected = success
    else:
        expected = 403

    response = perform(action, api(actor), people, model, background)

    assert response.status_code == expected, response.content
