"""Property-based: generated valid workflows driven by random decisions of random people.

At every point the queue ("Waiting for me"), the buttons on the request page and the e-mail
recipients agree for every person; nobody who authored the work decides; nobody decides two
human steps unless the definition allows it; and every request ends in exactly one terminal
state with nothing left running.
"""

import random

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from approvals import permissions, selectors, services
from approvals.models import Decision, PromotionRequest, StepState
from approvals.views.requests import steps_to_decide
from registry.roles import DATA_ANALYST, IT_ENGINEER, MANAGER, RISK_OFFICER
from tests import factories
from tests.conftest import install_workflow

ROLES = (MANAGER, DATA_ANALYST, IT_ENGINEER, RISK_OFFICER)
TERMINAL = {s for s in PromotionRequest.Status.values} - set(PromotionRequest.OPEN_STATUSES)
MAX_DECISIONS = 40


@pytest.fixture
def crowd(people):
    """Two holders of every role in team Risk, and sam who holds two of them."""
    Group.objects.get_or_create(name=RISK_OFFICER)
    people.quentin = factories.make_user("quentin", DATA_ANALYST, team=people.risk)
    people.isaac = factories.make_user("isaac", IT_ENGINEER, team=people.risk)
    people.rita = factories.make_user("rita", RISK_OFFICER, team=people.risk)
    people.rolf = factories.make_user("rolf", RISK_OFFICER, team=people.risk)
    people.sam = factories.make_user("sam", MANAGER, DATA_ANALYST, team=people.risk)
    return [people.mona, people.mike, people.quinn, people.quentin, people.ivan, people.isaac, people.rita,
            people.rolf, people.sam, people.dana, people.nora, people.gary]  # fmt: skip


@st.composite
def workflows(draw):
    """The YAML of a valid workflow: approval steps, parallel pairs and policy steps."""
    lines = ["name: prop", "steps:"]
    approvals: list[tuple[str, str]] = []  # (name, group) of approval steps so far
    humans: list[str] = []
    blocks = draw(st.integers(min_value=1, max_value=4))
    for index in range(blocks):
        if draw(st.booleans()) and index < blocks:
            threshold = draw(st.sampled_from([0.5, 0.9, 0.99]))
            condition = f"{{metric: accuracy, source: reported, gte: {threshold}}}"
            lines += [f"  - name: policy_{index}", "    type: policy", f"    when: {condition}", "    then: approve"]
        group = f"group_{index}" if draw(st.booleans()) else ""
        members = 2 if group else 1
        if group:
            lines += [f"  - name: {group}", "    parallel:"]
        for member in range(members):
            name = f"step_{index}_{member}"
            indent = "      " if group else "  "
            roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=2, unique=True))
            lines += [
                f"{indent}- name: {name}",
                f"{indent}  type: approval",
                f"{indent}  approvers: [{', '.join(roles)}]",
            ]
            lines.append(f"{indent}  required_approvals: {draw(st.integers(min_value=1, max_value=2))}")
            earlier = [n for n, g in approvals if not group or g != group]
            choice = draw(st.sampled_from(["return_to_author", "reject", "return_to_step"] if earlier else ["reject"]))
            if choice == "return_to_step":
                lines.append(f"{indent}  on_reject: {{return_to_step: {draw(st.sampled_from(earlier))}}}")
            else:
                lines.append(f"{indent}  on_reject: {choice}")
            if humans and draw(st.booleans()):
                lines.append(f"{indent}  allow_deciders_of: [{draw(st.sampled_from(humans))}]")
            approvals.append((name, group))
        humans += [name for name, g in approvals[-members:]]
    # A policy must approve a following approval step outside a group: drop those that cannot.
    return _valid_policies("\n".join(lines) + "\n")


def _valid_policies(text: str) -> str:
    from approvals.definitions import DefinitionError, parse_definition

    while True:
        try:
            parse_definition(text)
            return text
        except DefinitionError as error:
            assert "'then: approve'" in str(error), str(error)
            name = str(error).split("step '")[1].split("'")[0]
            block = [f"  - name: {name}", "    type: policy"]
            lines = text.splitlines()
            start = lines.index(block[0])
            text = "\n".join(lines[:start] + lines[start + 4 :]) + "\n"


def check_agreement(request, crowd, allowed_pairs):
    """Queue, buttons and e-mail recipients agree for everyone; the rules of the decisions hold."""
    request = PromotionRequest.objects.get(pk=request.pk)
    waiting = list(request.steps.filter(status=StepState.Status.WAITING))
    recipients = {step.pk: set(permissions.users_who_can(permissions.DECIDE, step)) for step in waiting}
    # The review e-mail's links: who may decide now, read with the people asked (every human step,
    # waiting or not: a step decided or passed offers nobody a link).
    human = [step for step in request.steps.all() if step.is_human]
    linked = {step.pk: permissions.deciders(step) for step in human}
    for step in human:
        asked, now = linked[step.pk]
        assert {p.pk for p in asked} == set(
            permissions.users_who_can(permissions.DECIDE, step, as_started=True).values_list("pk", flat=True)
        )
        assert now == {p.pk for p in recipients.get(step.pk, ())}, (step.name, now, recipients.get(step.pk))
    for person in crowd:
        person = type(person).objects.get(pk=person.pk)  # a fresh request: groups read anew
        page = selectors.request_get(user=person, pk=request.pk) if person.username != "gary" else None
        buttons = {step.pk for step in steps_to_decide(person, page)} if page is not None else set()
        queue = selectors.request_list(user=person, awaiting_me=True).filter(pk=request.pk).exists()
        emailed = {pk for pk, users in recipients.items() if person in users}
        allowed = {step.pk for step in waiting if permissions.can(person, permissions.DECIDE, step)}
        links = {pk for pk, (_asked, now) in linked.items() if person.pk in now}
        assert buttons == emailed == allowed == links, (person.username, buttons, emailed, allowed, links)
        assert queue == bool(buttons), (person.username, queue, buttons)
    decisions = Decision.objects.filter(request=request)
    assert not decisions.filter(actor__username="dana").exists()
    by_person: dict[int, set[str]] = {}
    for actor, step_name in decisions.values_list("actor_id", "step__name"):
        by_person.setdefault(actor, set()).add(step_name)
    for actor, names in by_person.items():
        for a in names:
            for b in names - {a}:
                assert (a, b) in allowed_pairs or (b, a) in allowed_pairs, (actor, names)


def allowed_pairs_of(text: str) -> set[tuple[str, str]]:
    from approvals.definitions import parse_definition

    return {(s.name, other) for s in parse_definition(text).steps for other in s.allow_deciders_of}


# The same examples on every run (CI reproducible); raise max_examples locally to explore further.
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=workflows(), seed=st.integers(min_value=0, max_value=2**32 - 1), accuracy=st.sampled_from([0.6, 0.95]))
def test_generated_workflows_and_random_decisions_keep_every_rule(crowd, risk_model, people, text, seed, accuracy):
    rng = random.Random(seed)
    with transaction.atomic():
        install_workflow(text, model=risk_model)
        version = factories.make_version(model=risk_model, by=people.dana, accuracy=accuracy)
        request = services.promotion_request_submit(version=version, actor=people.dana)
        pairs = allowed_pairs_of(text)
        stuck = False
        for count in range(MAX_DECISIONS):
            check_agreement(request, crowd, pairs)
            request.refresh_from_db()
            if not request.is_open:
                break
            options = [
                (person, step)
                for step in request.steps.filter(status=StepState.Status.WAITING)
                for person in permissions.users_who_can(permissions.DECIDE, step)
            ]
            if not options:  # nobody may decide: the service agrees for everyone
                for person in crowd:
                    for step in request.steps.filter(status=StepState.Status.WAITING):
                        with pytest.raises((PermissionDenied, services.InvalidTransition)):
                            services.step_decide(request=request, actor=person, step=step, verdict="approve")
                stuck = True
                break
            person, step = rng.choice(options)
            late = count > MAX_DECISIONS // 2  # approve from then on, so loops end
            # Mostly approvals, so requests get deep into their workflow; now and then a rejection.
            verdict = "approve" if late or rng.random() > 0.15 else rng.choice(["reject", "request_changes"])
            services.step_decide(request=request, actor=person, step=step, verdict=verdict, comment="Because.")
        request.refresh_from_db()
        if request.status in TERMINAL:
            assert request.closed_at is not None
            assert not request.steps.filter(status__in=StepState.ACTIVE_STATUSES).exists()
            if request.status == PromotionRequest.Status.COMPLETED:
                assert set(request.steps.values_list("status", flat=True)) <= {"approved", "skipped", "not_met"}
        else:  # still open only when nobody could decide what waits (checked above)
            assert stuck and request.status == PromotionRequest.Status.AWAITING_REVIEW
        transaction.set_rollback(True)
