"""The access matrix for the engine's step kinds: a parallel group (manager + risk officer), a
step with per-role minimums and a step a policy skipped, × every identity (multi-role people and
a superuser included) × a model of one's own team and of another × the page and the API."""

import pytest
from django.contrib.auth.models import Group

from approvals.models import PromotionRequest
from registry.roles import DATA_ANALYST, MANAGER, RISK_OFFICER
from tests import factories
from tests.security.test_access_matrix import IDENTITIES, check, client_for

KINDS = """
name: kinds
steps:
  - name: fast_lane
    type: policy
    when: {metric: accuracy, source: reported, gte: 0.99}
    then: {skip: both_roles}
  - name: first_line
    parallel:
      - name: manager_review
        type: approval
        approvers: [manager]
      - name: risk_review
        type: approval
        approvers: [risk officer]
  - name: both_roles
    type: approval
    approvers: [manager, data analyst]
    require: {manager: 1, data analyst: 1}
"""
PEOPLE = {**IDENTITIES, "rita": ("risk", (RISK_OFFICER,))}
STEP_ROLES = {"manager_review": {MANAGER}, "risk_review": {RISK_OFFICER}, "both_roles": {MANAGER, DATA_ANALYST}}


@pytest.fixture
def kinds_world(people, risk_model, growth_model, submit, use_workflow, background):
    """Per team: a request in its parallel review, one at its per-role step (first line decided
    by mike / gary and the risk officers), and one whose per-role step a policy skipped."""
    from approvals import services

    Group.objects.get_or_create(name=RISK_OFFICER)
    people.max = factories.make_user("max", MANAGER, DATA_ANALYST, "IT engineer", team=people.risk)
    people.inactive = factories.make_user("inactive", MANAGER, team=people.risk)
    from accounts.services import api_token_create

    _, people.inactive.key = api_token_create(user=people.inactive, name="before deactivation")
    people.inactive.is_active = False
    people.inactive.save(update_fields=["is_active"])
    people.root = factories.make_user("root", is_superuser=True, is_staff=True)
    people.rita = factories.make_user("rita", RISK_OFFICER, team=people.risk)
    people.rolf = factories.make_user("rolf", RISK_OFFICER, team=people.growth)
    use_workflow(KINDS)
    world = {}
    for model, author, manager, officer in (
        (risk_model, people.dana, people.mike, people.rita),
        (growth_model, people.gina, people.gary, people.rolf),
    ):
        waiting = submit(factories.make_version(model=model, by=author, accuracy=0.9), author)
        later = submit(factories.make_version(model=model, by=author, accuracy=0.9), author)
        skipped = submit(factories.make_version(model=model, by=author, accuracy=0.995), author)
        for request in (later, skipped):
            for person, step in ((manager, "manager_review"), (officer, "risk_review")):
                with background():
                    services.step_decide(request=request, actor=person, verdict="approve",
                                         step=request.steps.get(name=step))  # fmt: skip
        world[model.team.slug] = {
            "model": model.name,
            "manager_review": PromotionRequest.objects.get(pk=waiting.pk),
            "risk_review": PromotionRequest.objects.get(pk=waiting.pk),
            "both_roles": PromotionRequest.objects.get(pk=later.pk),
            "skipped": PromotionRequest.objects.get(pk=skipped.pk),
        }
    return world


def expected(identity, team, step):
    own_team, roles = PEOPLE[identity]
    if identity in ("anonymous", "inactive"):
        return "log in"
    if own_team != team and identity != "root":
        return 404
    if step == "skipped":
        return 409  # nobody decides a step a policy skipped: not now, for anyone who sees it
    if step == "both_roles" and identity in ("mike", "gary"):  # decided its first line: one step per person
        return 403
    return "done" if STEP_ROLES[step] & set(roles) and own_team == team else 403


def attempt(identity, team, step, via, kinds_world, page_client, api_client):
    request = kinds_world[team][step]
    name = "both_roles" if step == "skipped" else step
    target = request.steps.get(name=name)
    outcome = expected(identity, team, step)
    if via == "page":
        form = {"verdict": "approve", "comment": "ok", "step": target.pk}
        response = page_client.post(f"/requests/{request.pk}/decide/", form)
        if outcome == 409:  # the page says "not now" and changes nothing
            assert response.status_code == 302 and response.url == request.get_absolute_url()
        else:
            check(response, outcome, api=False, done=(302,))
    else:
        body = {"decision": "approve", "comment": "ok", "step": name}
        response = api_client.post(f"/api/requests/{request.pk}/decisions/", body)
        check(response, outcome, api=True, done=(201,))
    decided = target.decisions.filter(actor__username=identity).exists()
    assert decided == (outcome == "done"), (identity, team, step, via)


@pytest.mark.parametrize("team", ["risk", "growth"])
@pytest.mark.parametrize("identity", PEOPLE)
def test_deciding_each_kind_of_step(identity, team, kinds_world, people, client, api):
    """Each attempt runs in a savepoint rolled back after it, so each meets the same world."""
    from django.db import transaction

    page_client, api_client = client_for(identity, people, client, api)
    for step in ("manager_review", "risk_review", "both_roles", "skipped"):
        for via in ("page", "api"):
            with transaction.atomic():
                attempt(identity, team, step, via, kinds_world, page_client, api_client)
                transaction.set_rollback(True)
