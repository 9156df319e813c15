"""The engine's step kinds as people meet them: policy steps, parallel reviews, quorums,
where a rejection sends a request, and the one eligibility expression behind buttons, queues
and e-mails."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from approvals import permissions, selectors, services
from approvals.models import Decision, PromotionRequest, StepState
from approvals.views.requests import steps_to_decide
from audit.models import AuditEvent
from registry.roles import DATA_ANALYST, MANAGER
from tests import factories

Status = PromotionRequest.Status
RISK_OFFICER = "risk officer"

FAST_LANE = """
name: fast-lane
steps:
  - name: automated_checks
    type: checks
    checks:
      - type: artifact_integrity
  - name: manager_review
    type: approval
    approvers: [manager]
  - name: qa_policy
    type: policy
    title: Low-risk fast lane
    when:
      all:
        - model_card: risk_tier
          equals: low
        - metric: accuracy
          source: reported
          gte: 0.95
        - check: artifact_integrity
          is: passed
    then: approve
  - name: qa_review
    type: approval
    approvers: [data analyst]
"""

PARALLEL = """
name: high-risk
steps:
  - name: reviews
    parallel:
      - name: manager_review
        type: approval
        approvers: [manager]
      - name: risk_review
        type: approval
        approvers: [risk officer]
  - name: qa_review
    type: approval
    approvers: [data analyst]
    required_approvals: 2
"""


@pytest.fixture
def risk_officers(people):
    group, _ = Group.objects.get_or_create(name=RISK_OFFICER)
    people.rita = factories.make_user("rita", RISK_OFFICER, team=people.risk)
    people.quentin = factories.make_user("quentin", DATA_ANALYST, team=people.risk)
    return group


def card(tier: str) -> dict:
    return {"intended_use": "Scoring", "training_data": "2025 loans", "evaluation_data": "holdout", "limitations": "-",
            "owner": "risk", "risk_tier": tier}  # fmt: skip


def decide(background, request, actor, verdict="approve", comment="Reviewed.", step=None):
    request.refresh_from_db()
    with background():
        decision = services.step_decide(request=request, actor=actor, verdict=verdict, comment=comment, step=step)
    request.refresh_from_db()
    return decision


def statuses(request) -> dict[str, str]:
    return dict(request.steps.values_list("name", "status"))


# ---------------------------------------------------------------------------------------------
# Policy steps


def test_a_low_risk_accurate_model_skips_qa_approved_by_policy(people, risk_model, submit, use_workflow, background):
    use_workflow(FAST_LANE)
    version = factories.make_version(model=risk_model, by=people.dana, accuracy=0.97, model_card=card("low"))
    request = submit(version, people.dana)
    decide(background, request, people.mona)

    assert request.status == Status.COMPLETED
    assert statuses(request)["qa_policy"] == "approved" and statuses(request)["qa_review"] == "skipped"
    policy_step = request.steps.get(name="qa_policy")
    assert policy_step.result["met"] is True
    assert policy_step.result["read"] == {
        "model card risk_tier": "low", "reported accuracy": 0.97, "check artifact_integrity": "passed",
    }  # fmt: skip
    assert len(policy_step.result["evidence_digest"]) == 64
    assert not Decision.objects.filter(step__name__in=["qa_policy", "qa_review"]).exists()  # people's, only
    verbs = list(AuditEvent.objects.filter(request=request).values_list("verb", flat=True))
    assert "policy.met" in verbs and "step.skipped" in verbs


@pytest.mark.parametrize(
    "accuracy, tier", [(0.94, "low"), (0.99, "high")], ids=["accuracy below the bar", "a high-risk model"]
)
def test_otherwise_the_data_analyst_reviews(people, risk_model, submit, use_workflow, background, accuracy, tier):
    use_workflow(FAST_LANE)
    version = factories.make_version(model=risk_model, by=people.dana, accuracy=accuracy, model_card=card(tier))
    request = submit(version, people.dana)
    decide(background, request, people.mona)

    assert statuses(request)["qa_policy"] == "not_met" and statuses(request)["qa_review"] == "waiting"
    assert request.status == Status.AWAITING_REVIEW
    assert AuditEvent.objects.filter(request=request, verb="policy.not_met").exists()
    decide(background, request, people.quinn)
    assert request.status == Status.COMPLETED


def test_the_request_page_says_who_approved_by_policy(people, risk_model, submit, use_workflow, background, client):
    use_workflow(FAST_LANE)
    version = factories.make_version(model=risk_model, by=people.dana, accuracy=0.97, model_card=card("low"))
    request = submit(version, people.dana)
    decide(background, request, people.mona)
    client.force_login(people.quinn)
    page = client.get(request.get_absolute_url()).content.decode()
    assert 'data-testid="policy-verdict"' in page and "Condition met" in page
    assert 'data-testid="skipped-by-policy"' in page and "Approved by policy <strong>Low-risk fast lane" in page


# ---------------------------------------------------------------------------------------------
# Parallel reviews and quorums


def test_a_parallel_review_waits_for_both_roles_and_each_sees_only_their_own(
    people, risk_officers, risk_model, submit, use_workflow, background
):
    use_workflow(PARALLEL)
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    assert statuses(request) == {"manager_review": "waiting", "risk_review": "waiting", "qa_review": "pending"}
    assert [s.name for s in steps_to_decide(people.mona, selectors.request_get(user=people.mona, pk=request.pk))] == [
        "manager_review"
    ]
    assert [s.name for s in steps_to_decide(people.rita, selectors.request_get(user=people.rita, pk=request.pk))] == [
        "risk_review"
    ]
    decide(background, request, people.rita)
    assert statuses(request)["risk_review"] == "approved" and statuses(request)["qa_review"] == "pending"
    assert request.status == Status.AWAITING_REVIEW
    decide(background, request, people.mona)
    assert statuses(request)["qa_review"] == "waiting"


def test_the_queue_and_the_dashboard_name_every_review_a_request_waits_on(
    people, risk_officers, risk_model, submit, use_workflow, background, client
):
    use_workflow(PARALLEL)
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    client.force_login(people.dana)
    for url in ("/requests/?view=all", "/"):
        row = re.search(rf'<a href="/requests/{request.pk}/">.*?</tr>', client.get(url).content.decode(), re.S)
        assert row and re.search(r"Manager review<span[^>]*> \+ </span>Risk review", row.group(0)), url
    decide(background, request, people.rita)
    row = re.search(rf'<a href="/requests/{request.pk}/">.*?</tr>', client.get("/").content.decode(), re.S)
    assert "Manager review" in row.group(0) and "Risk review" not in row.group(0)


def test_a_rejection_in_a_parallel_group_stops_the_other_review(
    people, risk_officers, risk_model, submit, use_workflow, background
):
    use_workflow(PARALLEL)
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    decide(background, request, people.rita, verdict="request_changes", comment="Stress test missing.")
    assert request.status == Status.CHANGES_REQUESTED
    assert statuses(request)["manager_review"] == "cancelled"
    with pytest.raises(services.InvalidTransition, match="nothing to decide"):
        decide(background, request, people.mona, step=request.steps.get(name="manager_review"))


def test_two_of_the_data_analysts_approve_and_one_approval_does_not_offer_the_buttons_again(
    people, risk_officers, risk_model, submit, use_workflow, background, client
):
    use_workflow(PARALLEL)
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    decide(background, request, people.rita)
    decide(background, request, people.mona)
    decide(background, request, people.quinn)
    assert statuses(request)["qa_review"] == "waiting"

    # quinn approved: not in "Waiting for me", no buttons, no e-mail; quentin still is
    qa = request.steps.get(name="qa_review")
    assert not selectors.request_list(user=people.quinn, awaiting_me=True).exists()
    client.force_login(people.quinn)
    assert 'data-testid="decide"' not in client.get(request.get_absolute_url()).content.decode()
    assert set(permissions.users_who_can(permissions.DECIDE, qa)) == {people.quentin}
    assert selectors.request_list(user=people.quentin, awaiting_me=True).get() == request

    decide(background, request, people.quentin)
    assert request.status == Status.COMPLETED


REQUIRE_BOTH = """
name: both-roles
steps:
  - name: sign_off
    type: approval
    approvers: [manager, risk officer]
    require: {manager: 1, risk officer: 1}
"""


def test_per_role_minimums_are_not_met_by_two_managers(
    people, risk_officers, risk_model, submit, use_workflow, background
):
    use_workflow(REQUIRE_BOTH)
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    assert request.steps.get().required_approvals == 2
    decide(background, request, people.mona)
    decide(background, request, people.mike)
    assert request.status == Status.AWAITING_REVIEW  # two managers, no risk officer
    decide(background, request, people.rita)
    assert request.status == Status.COMPLETED


def test_a_person_holding_both_roles_counts_once(people, risk_officers, risk_model, submit, use_workflow, background):
    use_workflow(REQUIRE_BOTH)
    people.mona.groups.add(risk_officers)
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    decide(background, request, people.mona)
    decide(background, request, people.mike)
    assert request.status == Status.COMPLETED  # mona as risk officer, mike as manager
    people.mike.groups.add(risk_officers)  # a second request: mona and mike may each fill either role
    other = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    decide(background, other, people.mona)
    assert other.status == Status.AWAITING_REVIEW


EVERYONE = """
name: everyone
steps:
  - name: managers
    type: approval
    approvers: [manager]
    quorum: all
"""


def test_quorum_all_needs_every_eligible_person_at_the_start(people, risk_model, submit, use_workflow, background):
    use_workflow(EVERYONE)
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    assert request.steps.get().required_approvals == 2  # mona and mike; gary sees another team's models only
    decide(background, request, people.mona)
    assert request.status == Status.AWAITING_REVIEW
    decide(background, request, people.mike)
    assert request.status == Status.COMPLETED


# ---------------------------------------------------------------------------------------------
# Where a rejection sends the request


def on_reject(value: str) -> str:
    return f"""
name: returns
steps:
  - name: manager_review
    type: approval
    approvers: [manager]
  - name: qa_review
    type: approval
    approvers: [data analyst]
    on_reject: {value}
"""


def test_on_reject_reject_closes_even_a_request_for_changes(people, risk_model, submit, use_workflow, background):
    use_workflow(on_reject("reject"))
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    decide(background, request, people.mona)
    decide(background, request, people.quinn, verdict="request_changes", comment="Redo it.")
    assert request.status == Status.REJECTED


def test_return_to_step_sends_the_request_back_to_the_manager(people, risk_model, submit, use_workflow, background):
    use_workflow(on_reject("{return_to_step: manager_review}"))
    people.quinn.groups.add(Group.objects.get(name=MANAGER))  # she could review as a manager too
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    decide(background, request, people.mona)
    qa = request.steps.get(name="qa_review")
    decide(background, request, people.quinn, verdict="request_changes", comment="Ask the manager.", step=qa)

    assert request.status == Status.AWAITING_REVIEW
    assert statuses(request) == {"manager_review": "waiting", "qa_review": "pending"}
    manager = request.steps.get(name="manager_review")
    assert manager.round == 2 and "quinn" in manager.note
    assert AuditEvent.objects.filter(request=request, verb="request.returned_to_step").exists()
    with pytest.raises(PermissionDenied, match="separation of duties"):  # quinn decided QA
        decide(background, request, people.quinn, step=manager)
    decide(background, request, people.mona)  # a new round: mona decides again
    assert statuses(request)["qa_review"] == "waiting"
    decide(background, request, people.quinn, step=request.steps.get(name="qa_review"))  # so does quinn, in QA's
    assert request.status == Status.COMPLETED


ALLOWED_TWICE = """
name: small-team
steps:
  - name: manager_review
    type: approval
    approvers: [manager]
  - name: final_sign_off
    type: approval
    approvers: [manager]
    allow_deciders_of: [manager_review]
"""


def test_the_workflow_may_let_one_person_decide_two_named_steps(people, risk_model, submit, use_workflow, background):
    use_workflow(ALLOWED_TWICE)
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    decide(background, request, people.mona, step=request.steps.get(name="manager_review"))
    assert request in selectors.request_list(user=people.mona, awaiting_me=True)
    decide(background, request, people.mona, step=request.steps.get(name="final_sign_off"))
    assert request.status == Status.COMPLETED


def test_without_it_nobody_decides_two_steps(people, risk_model, submit, use_workflow, background):
    use_workflow(ALLOWED_TWICE.replace("    allow_deciders_of: [manager_review]\n", ""))
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    decide(background, request, people.mona, step=request.steps.get(name="manager_review"))
    final = request.steps.get(name="final_sign_off")
    assert request not in selectors.request_list(user=people.mona, awaiting_me=True)
    with pytest.raises(PermissionDenied, match="separation of duties"):
        decide(background, request, people.mona, step=final)
    assert set(permissions.users_who_can(permissions.DECIDE, request.steps.get(name="final_sign_off"))) == {people.mike}


# ---------------------------------------------------------------------------------------------
# Revisions


def test_a_request_finishes_under_the_revision_it_started_with(people, risk_model, submit, use_workflow, background):
    use_workflow(on_reject("return_to_author"))
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    first = request.revision
    use_workflow(on_reject("reject").replace("approvers: [data analyst]", "approvers: [IT engineer]"))
    assert request.revision.workflow.latest.number == first.number + 1

    decide(background, request, people.mona)
    assert statuses(request)["qa_review"] == "waiting"
    with pytest.raises(PermissionDenied):
        decide(background, request, people.ivan)  # revision 2's approver
    decide(background, request, people.quinn)  # revision 1's
    assert request.status == Status.COMPLETED and request.revision == first

    later = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    assert later.revision.number == first.number + 1


def test_a_model_follows_its_own_workflow(people, risk_model, growth_model, submit, use_workflow):
    use_workflow(EVERYONE, model=risk_model)
    risky = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    other = submit(factories.make_version(model=growth_model, by=people.gina), people.gina)
    assert risky.workflow_name == "everyone" and other.workflow_name == "default"
    assert StepState.objects.filter(request=other, name="manager_review").exists()


def test_no_manager_in_the_team_means_nobody_is_asked(people, risk_model, submit, background):
    """The e-mail recipients are exactly those the expression allows: not the author, not
    another team's manager."""
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    step = request.steps.get(name="manager_review")
    assert set(permissions.users_who_can(permissions.DECIDE, step)) == {people.mona, people.mike}
    people.mike.groups.remove(Group.objects.get(name=MANAGER))
    people.mike = type(people.mike).objects.get(pk=people.mike.pk)
    assert set(permissions.users_who_can(permissions.DECIDE, step)) == {people.mona}


def test_the_api_shows_the_revision_the_groups_and_the_policy_verdict(
    people, risk_officers, risk_model, submit, use_workflow, background, api
):
    use_workflow(FAST_LANE)
    version = factories.make_version(model=risk_model, by=people.dana, accuracy=0.97, model_card=card("low"))
    request = submit(version, people.dana)
    decide(background, request, people.mona)
    body = api(people.quinn).get(f"/api/requests/{request.pk}/").json()
    assert body["workflow_revision"] == request.revision.number
    steps = {step["name"]: step for step in body["steps"]}
    assert steps["qa_policy"]["result"]["met"] is True and steps["qa_review"]["status"] == "skipped"
    assert steps["qa_review"]["result"]["by_policy"] == "qa_policy"

    use_workflow(PARALLEL)
    parallel = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    body = api(people.rita).get(f"/api/requests/{parallel.pk}/").json()
    assert {s["name"]: s["group"] for s in body["steps"]}["risk_review"] == "reviews"
