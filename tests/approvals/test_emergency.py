"""Emergency releases (break-glass): an IT engineer asks, with a justification, to release a
version past the reviews still waiting; a manager who took no part agrees (or refuses, saying
why). Released, the waiting reviews are skipped, the version is deployed and flagged
everywhere, and a retrospective review follows, due within the workflow's time and escalated
when overdue; everything is audited and e-mailed."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from approvals import deadlines, emergency, permissions, services
from approvals.definitions import DefinitionError, parse_definition
from approvals.models import EmergencyRelease, PromotionRequest, StepState
from audit.models import AuditEvent
from registry.models import ModelVersion
from tests import factories
from tests.conftest import BASIC_WORKFLOW

JUSTIFICATION = "Scores are null for every applicant since the feature store change; v1 fixes the join."


@pytest.fixture
def waiting(awaiting_manager, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    return awaiting_manager


def ask(background, request, who, justification=JUSTIFICATION):
    with background():
        return emergency.emergency_request(request=request, actor=who, justification=justification)


def decide(background, asked, who, release=True, comment=""):
    with background():
        return emergency.emergency_decide(emergency=asked, actor=who, release=release, comment=comment)


def test_a_released_emergency_skips_the_reviews_deploys_flags_and_adds_a_retrospective(waiting, people, background):
    asked = ask(background, waiting, people.ivan)
    assert sorted(m.to[0] for m in mail.outbox) == ["mike@example.com", "mona@example.com"]
    assert "asks for an emergency release" in mail.outbox[0].subject and "feature store" in mail.outbox[0].body
    mail.outbox.clear()

    decide(background, asked, people.mona, comment="Agreed; outage in progress.")
    waiting.refresh_from_db()
    version = waiting.version
    version.refresh_from_db()
    steps = {step.name: step for step in waiting.steps.all()}
    assert steps["manager_review"].status == "skipped" and steps["qa_review"].status == "skipped"
    assert steps["promote_to_qa"].status == "done" and steps["deployment"].status == "done"
    assert version.stage == ModelVersion.Stage.PRODUCTION and version.emergency_release
    deployed_by = steps["deployment"].decisions.get()
    assert deployed_by.actor == people.ivan and JUSTIFICATION in deployed_by.comment
    retro = steps["retrospective"]
    assert retro.kind == StepState.Kind.RETROSPECTIVE and retro.status == "waiting"
    assert retro.due_at is not None and timedelta(hours=47) < retro.due_at - retro.started_at <= timedelta(hours=48)
    assert waiting.status == PromotionRequest.Status.AWAITING_REVIEW
    asked.refresh_from_db()
    assert asked.status == "released" and asked.retrospective == retro

    # mona agreed, so mike (the other manager) reviews it afterwards; ivan neither
    assert list(permissions.users_who_can(permissions.DECIDE, retro).values_list("username", flat=True)) == ["mike"]
    assert "took part in the emergency release" in permissions.refusal(people.mona, permissions.DECIDE, retro)
    told = {m.to[0] for m in mail.outbox}
    assert {"ivan@example.com", "dana@example.com", "mike@example.com"} <= told
    assert any("agreed by Mona" in m.subject or "agreed by mona" in m.subject for m in mail.outbox)

    with background():
        services.step_decide(request=waiting, actor=people.mike, verdict="approve", step=retro)
    waiting.refresh_from_db()
    assert waiting.status == PromotionRequest.Status.COMPLETED
    verbs = list(AuditEvent.objects.filter(request=waiting).order_by("pk").values_list("verb", flat=True))
    start = verbs.index("emergency.requested")
    assert verbs[start : start + 5] == [
        "emergency.requested", "step.skipped", "step.skipped", "step.added", "emergency.released"
    ]  # fmt: skip
    assert verbs[-1] == "request.completed"


def test_a_rejected_retrospective_closes_the_request_and_the_flag_stays(waiting, people, background):
    decide(background, ask(background, waiting, people.ivan), people.mona)
    retro = waiting.steps.get(kind=StepState.Kind.RETROSPECTIVE)
    with background():
        services.step_decide(
            request=waiting, actor=people.mike, verdict="reject", step=retro, comment="Should have waited for QA."
        )
    waiting.refresh_from_db()
    assert waiting.status == PromotionRequest.Status.REJECTED
    assert ModelVersion.objects.get(pk=waiting.version_id).emergency_release


def test_a_refusal_needs_a_reason_and_the_request_goes_on(waiting, people, background):
    asked = ask(background, waiting, people.ivan)
    with pytest.raises(ValidationError, match="Say why"):
        emergency.emergency_decide(emergency=asked, actor=people.mona, release=False, comment="  ")
    decide(background, asked, people.mona, release=False, comment="Roll back instead; v0 was fine.")
    waiting.refresh_from_db()
    assert waiting.steps.get(name="manager_review").status == "waiting"
    assert not waiting.steps.filter(kind=StepState.Kind.RETROSPECTIVE).exists()
    assert not ModelVersion.objects.get(pk=waiting.version_id).emergency_release
    assert any("refused the emergency release" in m.subject for m in mail.outbox if m.to == ["ivan@example.com"])
    # refused, it can be asked again (by someone who may)
    assert ask(background, waiting, people.ivan).status == EmergencyRelease.Status.REQUESTED


def test_who_may_ask_and_who_may_agree(waiting, people, background):
    for who, reason in [
        (people.mona, "Only IT engineer may ask"),
        (people.dana, "Only IT engineer may ask"),
        (people.gus, "You do not have access to this model"),
    ]:
        with pytest.raises(PermissionDenied, match=reason):
            ask(background, waiting, who)
    asked = ask(background, waiting, people.ivan)
    for who, reason in [
        (people.ivan, "someone else must agree"),
        (people.quinn, "Only manager may agree"),
        (people.gary, "You do not have access to this model"),
    ]:
        with pytest.raises(PermissionDenied, match=reason):
            decide(background, asked, who)
    assert EmergencyRelease.objects.get().status == "requested"


def test_an_author_or_a_decider_of_the_request_takes_no_part(people, risk_model, submit, background):
    dana_the_engineer = factories.make_user("erin", "data scientist", "IT engineer", team=people.risk)
    version = factories.make_version(model=risk_model, by=dana_the_engineer)
    request = submit(version, people.dana)
    with pytest.raises(PermissionDenied, match="four-eyes"):
        ask(background, request, dana_the_engineer)
    with background():
        services.step_decide(request=request, actor=people.mona, verdict="approve")
    asked = ask(background, request, people.ivan)
    with pytest.raises(PermissionDenied, match="You decided 'Manager review'"):
        decide(background, asked, people.mona)


def test_only_a_request_waiting_for_people_and_only_one_at_a_time(waiting, people, background):
    ask(background, waiting, people.ivan)
    with pytest.raises(emergency.EmergencyConflict, match="already asked for"):
        ask(background, waiting, people.ivan)
    with background():
        services.promotion_request_withdraw(request=waiting, actor=people.dana, reason="Wrong artifact.")
    asked = EmergencyRelease.objects.get()
    with pytest.raises(emergency.EmergencyConflict, match="withdrawn"):
        decide(background, asked, people.mona)
    asked.refresh_from_db()
    assert asked.status == "requested" and not ModelVersion.objects.get(pk=waiting.version_id).emergency_release


def test_a_workflow_may_turn_it_off_or_name_other_roles(use_workflow, people, risk_model, submit, background):
    text = BASIC_WORKFLOW.read_text()
    use_workflow(text.replace("steps:", "break_glass: false\nsteps:", 1))
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    with pytest.raises(PermissionDenied, match="allows no emergency release"):
        ask(background, request, people.ivan)

    use_workflow(
        text.replace(
            "steps:",
            "break_glass:\n  by: [manager]\n  second: [IT engineer]\n  retrospective_by: [data analyst]\n"
            "  retrospective_due: 4h\n  escalate_to: [manager]\nsteps:",
            1,
        )
    )
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    asked = ask(background, request, people.mona)
    decide(background, asked, people.ivan)
    retro = request.steps.get(kind=StepState.Kind.RETROSPECTIVE)
    assert retro.due_at - retro.started_at == timedelta(hours=4)
    assert list(permissions.users_who_can(permissions.DECIDE, retro).values_list("username", flat=True)) == ["quinn"]

    # overdue, the retrospective escalates to the roles named (mike; mona asked and is told too as a manager)
    mail.outbox.clear()
    with background():
        assert deadlines.step_deadline_pass(step_id=retro.pk, now=timezone.now() + timedelta(hours=5)) == "overdue"
    told = sorted(m.to[0] for m in mail.outbox)
    assert "quinn@example.com" in told and "mike@example.com" in told


@pytest.mark.parametrize(
    "block, problem",
    [
        ("break_glass: yes please", "'break_glass' must be false or a mapping"),
        ("break_glass:\n  by: IT engineer", "'by' must be a list of names"),
        ("break_glass:\n  by: []", "'by' must name at least one role"),
        ("break_glass:\n  retrospective_due: soon", "'retrospective_due' must be a duration"),
        ("break_glass:\n  retrospective_due: 99999d", "'retrospective_due' must be a duration"),
        ("break_glass:\n  seconds: [manager]", "unknown key 'seconds'"),
    ],
)
def test_a_wrong_break_glass_block_is_refused_at_its_line(block, problem):
    text = BASIC_WORKFLOW.read_text().replace("steps:", f"{block}\nsteps:", 1)
    with pytest.raises(DefinitionError, match=problem) as error:
        parse_definition(text)
    assert error.value.line is not None


def test_the_digest_of_a_workflow_without_break_glass_is_unchanged():
    text = BASIC_WORKFLOW.read_text()
    plain = parse_definition(text)
    explicit = parse_definition(text.replace("steps:", "break_glass:\n  by: [IT engineer]\nsteps:", 1))
    assert plain.break_glass == explicit.break_glass and plain.digest != explicit.digest
    # the digest basic.yaml had before the language knew break_glass (requests pin it)
    assert plain.digest == "4859cbabbe3210401133b19c7ef8271af0660aafae1afadd3ff22e2f5fa5ed87"


# ---------------------------------------------------------------------------------------------
# The request page and the API


def test_the_page_offers_break_glass_to_the_engineer_and_the_agreement_to_a_manager(
    waiting, people, client, background
):
    client.force_login(people.mona)
    assert 'data-testid="break-glass"' not in client.get(f"/requests/{waiting.pk}/").content.decode()
    client.force_login(people.ivan)
    page = client.get(f"/requests/{waiting.pk}/").content.decode()
    assert 'data-testid="break-glass"' in page
    r = client.post(f"/requests/{waiting.pk}/emergency/", {"justification": ""})
    assert r.status_code == 400 and not EmergencyRelease.objects.exists()
    r = client.post(f"/requests/{waiting.pk}/emergency/", {"justification": JUSTIFICATION})
    assert r.status_code == 302
    asked = EmergencyRelease.objects.get()
    page = client.get(f"/requests/{waiting.pk}/").content.decode()
    assert "Waiting for a second person" in page and 'data-testid="emergency-decide"' not in page

    client.force_login(people.mona)
    page = client.get(f"/requests/{waiting.pk}/").content.decode()
    assert 'data-testid="emergency-decide"' in page and "feature store change" in page
    r = client.post(f"/requests/{waiting.pk}/emergency/{asked.pk}/decide/", {"decision": "refuse", "comment": ""})
    assert r.status_code == 400 and "Say why" in r.content.decode()
    assert EmergencyRelease.objects.get().status == "requested"
    with background():
        r = client.post(f"/requests/{waiting.pk}/emergency/{asked.pk}/decide/", {"decision": "release"})
    assert r.status_code == 302
    page = client.get(f"/requests/{waiting.pk}/").content.decode()
    assert 'data-testid="emergency-flag"' in page and "Agreed by <strong>mona</strong>" in page
    assert "Manager review skipped by the emergency release" in page  # the verdict line
    assert 'data-testid="skipped-by-emergency"' in page  # the step
    assert "asked for an emergency release" in page and "agreed to the emergency release" in page  # the timeline
    # a second press changes nothing and says why
    r = client.post(f"/requests/{waiting.pk}/emergency/{asked.pk}/decide/", {"decision": "refuse", "comment": "x"})
    assert r.status_code in (302, 403)
    assert EmergencyRelease.objects.get().status == "released"
    version_page = client.get(waiting.version.get_absolute_url()).content.decode()
    model_page = client.get(waiting.model.get_absolute_url()).content.decode()
    queue = client.get("/requests/?view=all").content.decode()
    assert all('data-testid="emergency-flag"' in text for text in (version_page, model_page, queue))


def test_the_api_asks_and_agrees(waiting, people, api, background):
    r = api(people.ivan).post(f"/api/requests/{waiting.pk}/emergency/", {"justification": JUSTIFICATION}, format="json")
    assert r.status_code == 201 and r.json()["status"] == "requested"
    r2 = api(people.ivan).post(f"/api/requests/{waiting.pk}/emergency/", {"justification": "again"}, format="json")
    assert r2.status_code == 409
    refused = api(people.ivan).post(
        f"/api/requests/{waiting.pk}/emergency/{r.json()['id']}/", {"release": True}, format="json"
    )
    assert refused.status_code == 403 and "someone else must agree" in refused.json()["detail"]
    with background():
        r = api(people.mona).post(
            f"/api/requests/{waiting.pk}/emergency/{r.json()['id']}/", {"release": True}, format="json"
        )
    assert r.status_code == 200 and r.json()["status"] == "released" and r.json()["retrospective"] == "retrospective"
    detail = api(people.mike).get(f"/api/requests/{waiting.pk}/").json()
    assert detail["emergency_release"] is True and detail["emergencies"][0]["requested_by"] == "ivan"
    assert detail["steps"][-1]["kind"] == "retrospective" and detail["steps"][-1]["status"] == "waiting"
    version = api(people.mike).get(f"/api/models/credit-risk/versions/{waiting.version.number}/").json()
    assert version["emergency_release"] is True and version["stage"] == "production"


HOSTILE = [
    '{"justification": "\\ud800"}',
    '{"justification": "a\\u0000b"}',
    '{"justification": 1e400}',
    '{"justification": ' + "1" + "0" * 400 + "}",
    '{"justification": ' + "[" * 50 + "]" * 50 + "}",
    '{"justification": "' + "a" * 1_000_000 + '"}',
    '{"release": "\\ud800", "comment": "x"}',
    '{"release": ' + "1" + "0" * 400 + "}",
    '{"release": false, "comment": "a\\u0000b"}',
]


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_body_is_refused_and_changes_nothing(waiting, people, api, background, body):
    asked = ask(background, waiting, people.ivan)
    who, url = (
        (people.ivan, f"/api/requests/{waiting.pk}/emergency/")
        if "justification" in body
        else (people.mona, f"/api/requests/{waiting.pk}/emergency/{asked.pk}/")
    )
    if "justification" in body:  # a refused one leaves room to ask again: the body alone is the problem
        EmergencyRelease.objects.filter(pk=asked.pk).update(status="refused")
    r = api(who).post(url, body, content_type="application/json")
    assert 400 <= r.status_code < 500, (r.status_code, r.content[:300])
    assert not EmergencyRelease.objects.filter(status="released").exists()
    assert EmergencyRelease.objects.count() == 1


@pytest.mark.parametrize("emergency_id", ["1" + "0" * 400, "99999999999999999999"])
def test_an_absurd_emergency_id_is_a_404(waiting, people, client, api, emergency_id):
    client.force_login(people.mona)
    assert (
        client.post(f"/requests/{waiting.pk}/emergency/{emergency_id}/decide/", {"decision": "release"}).status_code
        == 404
    )
    assert (
        api(people.mona)
        .post(f"/api/requests/{waiting.pk}/emergency/{emergency_id}/", {"release": True}, format="json")
        .status_code
        == 404
    )
