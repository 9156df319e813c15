"""Deadlines of people's steps: ``due`` in the workflow (hours, days, business days), a reminder
before and an escalation after, each an e-mail and an audit event, sent at most once by the
sweeper; the queue, the page and the API show what is due and what is overdue."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from approvals import deadlines, services
from approvals.definitions import DefinitionError, parse_definition, reference_problems
from approvals.models import StepState
from audit.models import AuditEvent
from jobs.runner import jobs_sweep
from tests import factories

WORKFLOW = """
name: timed
steps:
  - name: automated_checks
    type: checks
    checks: [{type: artifact_integrity}]
  - name: manager_review
    type: approval
    title: Manager review
    approvers: [manager]
    due: {due}
    remind_before: 4h
    escalate_to: [IT engineer]
    escalate_to_users: [gary]
  - name: deployment
    type: deployment
    approvers: [IT engineer]
    due: 2d
    business_days: true
"""


@pytest.fixture
def timed(use_workflow, people):
    use_workflow(WORKFLOW.replace("{due}", "1d"))


@pytest.fixture
def outbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    return mail.outbox


def submitted(people, risk_model, background):
    with background():
        return services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )


def sweep(background):
    with background():
        return jobs_sweep()


def told(outbox, word):
    return sorted(message.to[0] for message in outbox if word in message.subject)


def test_a_step_is_due_by_its_definition_counted_from_its_start(timed, people, risk_model, background):
    request = submitted(people, risk_model, background)
    review = request.steps.get(name="manager_review")
    assert review.status == "waiting"
    assert review.due_at - review.started_at == timedelta(days=1)
    assert review.due_at - review.remind_at == timedelta(hours=4)
    assert request.steps.get(name="deployment").due_at is None  # not started yet


def test_the_reminder_then_the_escalation_each_once(timed, people, risk_model, background, outbox):
    request = submitted(people, risk_model, background)
    review = request.steps.get(name="manager_review")
    assert sweep(background)["step_deadline"] == 0 and not told(outbox, "Reminder")

    StepState.objects.filter(pk=review.pk).update(remind_at=timezone.now() - timedelta(minutes=1))
    assert sweep(background)["step_deadline"] == 1
    assert sweep(background)["step_deadline"] == 0  # at most once
    assert told(outbox, "Reminder") == ["mike@example.com", "mona@example.com"]
    reminder = next(m for m in outbox if m.to == ["mona@example.com"] and "Reminder" in m.subject)
    assert 'Reminder: "Manager review" for credit-risk v1 is due' in reminder.subject and "<time" not in reminder.body

    StepState.objects.filter(pk=review.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    assert sweep(background)["step_deadline"] == 1
    assert sweep(background)["step_deadline"] == 0
    # The deciders, and the IT engineers of the model's team; gary is named but sees no risk model.
    assert told(outbox, "Overdue") == ["ivan@example.com", "mike@example.com", "mona@example.com"]
    # Who may decide gets their own decision links; the IT engineer is told, with nothing to decide.
    overdue = {m.to[0]: m.body for m in outbox if "Overdue" in m.subject}
    assert "  Approve: http" in overdue["mona@example.com"] and "  Approve: http" not in overdue["ivan@example.com"]
    assert "  Approve: http" in reminder.body
    verbs = list(AuditEvent.objects.filter(request=request, verb__in=["step.reminder", "step.overdue"])
                 .order_by("pk").values_list("verb", "actor"))  # fmt: skip
    assert verbs == [("step.reminder", None), ("step.overdue", None)]


def test_a_late_sweep_escalates_without_a_stale_reminder(timed, people, risk_model, background, outbox):
    request = submitted(people, risk_model, background)
    past = timezone.now() - timedelta(minutes=1)
    request.steps.filter(name="manager_review").update(remind_at=past, due_at=past)
    sweep(background)
    assert told(outbox, "Overdue") and not told(outbox, "Reminder")


def test_a_decided_step_is_neither_reminded_nor_escalated(timed, people, risk_model, background, outbox):
    request = submitted(people, risk_model, background)
    with background():
        services.step_decide(request=request, actor=people.mona, verdict="approve", comment="ok")
    past = timezone.now() - timedelta(minutes=1)
    request.steps.filter(name="manager_review").update(remind_at=past, due_at=past)
    assert deadlines.steps_due() == []
    assert sweep(background)["step_deadline"] == 0
    assert not told(outbox, "Overdue") and not told(outbox, "Reminder")


def test_a_failed_deployment_waits_with_a_new_deadline(timed, people, risk_model, background):
    request = submitted(people, risk_model, background)
    with background():
        services.step_decide(request=request, actor=people.mona, verdict="approve", comment="ok")
    deployment = request.steps.get(name="deployment")
    assert deployment.status == "waiting" and deployment.due_at is not None
    StepState.objects.filter(pk=deployment.pk).update(
        status="running", reminded_at=timezone.now(), due_at=timezone.now() - timedelta(days=3)
    )
    services.step_execution_fail(step_id=deployment.pk, reason="The cluster refused it")
    deployment.refresh_from_db()
    assert deployment.status == "waiting" and deployment.round == 2
    assert deployment.due_at > timezone.now() and deployment.reminded_at is None


def test_business_days_skip_the_weekend():
    utc = ZoneInfo("UTC")
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=utc)
    due, remind = deadlines.schedule({"due": "1d", "business_days": True}, friday)
    assert (due.weekday(), due.hour) == (0, 15)  # Monday 15:00
    assert remind == friday + (due - friday) * 3 / 4
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=utc)
    assert deadlines.schedule({"due": "2d", "business_days": True}, saturday)[0].date().isoformat() == "2026-12-08"
    assert deadlines.schedule({"due": "36h"}, friday)[0] == friday + timedelta(hours=36)
    assert deadlines.schedule({}, friday) == (None, None)


@pytest.mark.parametrize(
    ("extra", "problem", "line"),
    [
        ("due: soon", "'due' must be a duration such as 4h or 2d", 8),
        ("due: 0d", "'due' must be a duration", 8),
        ("due: 400d", "'due' must be a duration", 8),
        ("due: 99999999999999999999999h", "'due' must be a duration", 8),
        ("due: [2d]", "'due' must be a duration", 8),
        ("due: 4h\n    remind_before: 4h", "'remind_before' must be a duration shorter than 'due'", 9),
        ("due: 4h\n    business_days: true", "'business_days' applies to a deadline in days", 9),
        ("due: 2d\n    business_days: 'yes'", "'business_days' must be true or false", 9),
        ("escalate_to: [manager]", "'escalate_to' needs 'due'", 8),
        ("due: 2d\n    escalate_to: manager", "'escalate_to' must be a list of names", 9),
    ],
)
def test_a_wrong_deadline_is_refused_at_its_line(extra, problem, line):
    text = f"name: timed\nsteps:\n  - name: review\n    type: approval\n    approvers: [manager]\n" \
           f"    title: Review\n    required_approvals: 1\n    {extra}\n"  # fmt: skip
    with pytest.raises(DefinitionError) as error:
        parse_definition(text)
    assert problem in error.value.problem and error.value.line == line


def test_escalation_to_unknown_roles_or_people_is_refused(people):
    definition = parse_definition(WORKFLOW.replace("{due}", "1d").replace("[IT engineer]\n    escalate_to_users",
                                                                          "[auditors]\n    escalate_to_users")
                                  .replace("[gary]", "[nobody]"))  # fmt: skip
    problems = reference_problems(definition)
    assert "step 'manager_review': there is no role called 'auditors'" in problems
    assert "step 'manager_review': there is no active user called 'nobody'" in problems


def test_definitions_without_deadlines_keep_their_digest():
    text = "name: plain\nsteps:\n  - name: review\n    type: approval\n    approvers: [manager]\n"
    assert parse_definition(text).digest == parse_definition(text + "\n# a comment\n").digest
    timed = parse_definition(text + "    due: 2d\n")
    assert timed.digest != parse_definition(text).digest


def test_the_queue_page_and_api_show_what_is_due(timed, people, risk_model, background, client, api):
    request = submitted(people, risk_model, background)
    client.force_login(people.mona)
    page = client.get("/requests/").content.decode()
    assert 'data-testid="due"' in page and "due " in page and "overdue" not in page.split('data-testid="due"')[1][:40]
    request.steps.filter(name="manager_review").update(due_at=timezone.now() - timedelta(hours=1))
    page = client.get("/requests/").content.decode()
    assert "overdue since" in page
    detail = client.get(f"/requests/{request.pk}/").content.decode()
    assert "overdue since" in detail
    steps = api(people.mona).get(f"/api/requests/{request.pk}/").json()["steps"]
    review = next(step for step in steps if step["name"] == "manager_review")
    assert review["overdue"] is True and review["due_at"]


@pytest.mark.parametrize("value", ["1" * 5000, "9" * 4000 + "h", "x" * 100_000])
def test_absurd_values_are_refused_with_a_short_message(value):
    text = f"name: timed\nsteps:\n  - name: review\n    type: approval\n    approvers: [manager]\n    due: {value}\n"
    with pytest.raises(DefinitionError) as error:
        parse_definition(text)
    assert len(str(error.value)) < 300
