"""One person never takes a version to production alone (finding 4), and decisions land on the
step the reviewer meant."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from approvals import permissions, selectors, services
from approvals.models import Decision
from registry.roles import DATA_ANALYST, IT_ENGINEER, MANAGER
from tests import factories


@pytest.fixture
def max_(people):
    """Max holds the manager, data analyst and IT engineer roles in team Risk."""
    return factories.make_user("max", MANAGER, DATA_ANALYST, IT_ENGINEER, team=people.risk)


def approve(background, request, actor, step=None):
    request.refresh_from_db()
    step_state = request.steps.get(name=step) if step else None
    with background():
        return services.step_decide(request=request, actor=actor, verdict="approve", comment="ok", step=step_state)


def test_a_person_with_three_roles_decides_only_one_step(people, max_, awaiting_manager, background):
    approve(background, awaiting_manager, max_, step="manager_review")

    with pytest.raises(PermissionDenied, match="separation of duties"):
        approve(background, awaiting_manager, max_, step="qa_review")
    approve(background, awaiting_manager, people.quinn)
    with pytest.raises(PermissionDenied, match="separation of duties"):
        approve(background, awaiting_manager, max_, step="deployment")
    assert Decision.objects.filter(actor=max_).count() == 1
    approve(background, awaiting_manager, people.ivan)
    awaiting_manager.refresh_from_db()
    assert awaiting_manager.status == "completed"


def test_queues_and_emails_leave_out_whoever_decided_another_step(people, max_, awaiting_manager, background):
    approve(background, awaiting_manager, max_, step="manager_review")
    awaiting_manager.refresh_from_db()
    qa_step = awaiting_manager.current_step

    assert not selectors.request_list(user=max_, awaiting_me=True).exists()
    assert selectors.request_list(user=people.quinn, awaiting_me=True).get() == awaiting_manager
    assert set(permissions.users_who_can(permissions.DECIDE, qa_step)) == {people.quinn}


def test_a_superuser_decides_nothing_by_status(people, awaiting_manager, background):
    root = factories.make_user("root", is_superuser=True, is_staff=True)
    with pytest.raises(PermissionDenied):
        approve(background, awaiting_manager, root, step="manager_review")
    assert not selectors.request_list(user=root, awaiting_me=True).exists()
    assert root not in permissions.users_who_can(permissions.DECIDE, awaiting_manager.current_step)


def test_a_superuser_of_another_team_holding_the_role_does_not_act_on_this_team(people, awaiting_manager, background):
    boss = factories.make_user("boss", MANAGER, team=people.growth, is_superuser=True)
    with pytest.raises(PermissionDenied, match="access"):
        approve(background, awaiting_manager, boss)
    assert not selectors.request_list(user=boss, awaiting_me=True).exists()


def test_someone_whose_roles_cover_several_steps_must_name_one(people, max_, awaiting_manager, api):
    response = api(max_).post(f"/api/requests/{awaiting_manager.pk}/decisions/", {"decision": "approve"})
    assert response.status_code == 400
    assert "name the step" in response.json()["step"][0]
    with pytest.raises(ValidationError):
        services.step_decide(request=awaiting_manager, actor=max_, verdict="approve")
    assert not Decision.objects.exists()


def test_a_step_decided_meanwhile_is_409_never_403_nor_the_next_step(people, awaiting_manager, api, background):
    approve(background, awaiting_manager, people.mona)
    # Mike, a manager too, approves without naming the step: it is his role's step, already decided.
    response = api(people.mike).post(f"/api/requests/{awaiting_manager.pk}/decisions/", {"decision": "approve"})
    assert response.status_code == 409
    assert "already decided" in response.json()["detail"]
    assert not Decision.objects.filter(actor=people.mike).exists()


@pytest.fixture
def sam(people):
    """Sam is a data scientist and a manager in team Risk."""
    from registry.roles import DATA_SCIENTIST

    return factories.make_user("sam", DATA_SCIENTIST, MANAGER, team=people.risk)


def test_the_author_of_a_version_sent_back_decides_nothing_of_its_fix(people, sam, risk_model, submit, background):
    bytes_ = factories.artifact().read()
    first = factories.make_version(model=risk_model, by=sam, artifact=factories.artifact(bytes_))
    sent_back = submit(first, sam)
    with background():
        services.step_decide(request=sent_back, actor=people.mona, verdict="request_changes", comment="fix it")
    # A colleague registers the "fix": derived from sam's version, with the very same artifact.
    fix = factories.make_version(model=risk_model, by=people.dana, artifact=factories.artifact(bytes_),
                                 derived_from=first)  # fmt: skip
    request = submit(fix, people.dana)

    with pytest.raises(PermissionDenied, match="registered a version it was derived from"):
        approve(background, request, sam)
    assert not selectors.request_list(user=sam, awaiting_me=True).exists()
    request.refresh_from_db()
    assert sam not in permissions.users_who_can(permissions.DECIDE, request.current_step)
    assert people.mona in permissions.users_who_can(permissions.DECIDE, request.current_step)
    assert not Decision.objects.filter(actor=sam, request=request).exists()


def test_whoever_registered_the_same_artifact_elsewhere_decides_nothing(people, sam, risk_model, submit, background):
    bytes_ = factories.artifact().read()
    factories.make_version(model=risk_model, by=sam, artifact=factories.artifact(bytes_))  # never submitted
    request = submit(factories.make_version(model=risk_model, by=people.dana, artifact=factories.artifact(bytes_)),
                     people.dana)  # fmt: skip

    with pytest.raises(PermissionDenied, match="same artifact"):
        approve(background, request, sam)
    assert not selectors.request_list(user=sam, awaiting_me=True).exists()
    approve(background, request, people.mona)  # someone who authored none of it may
    assert Decision.objects.filter(request=request, actor=people.mona).exists()


def test_registering_the_same_artifact_after_submission_takes_the_decision_away(
    people, sam, risk_model, submit, background
):
    bytes_ = factories.artifact().read()
    request = submit(factories.make_version(model=risk_model, by=people.dana, artifact=factories.artifact(bytes_)),
                     people.dana)  # fmt: skip
    assert sam in permissions.users_who_can(permissions.DECIDE, request.current_step)
    assert selectors.request_list(user=sam, awaiting_me=True).exists()

    # sam registers the very bytes under review (in another model, even): now he is their author too.
    other = factories.make_model(team=people.risk, by=sam, name="credit-risk-copy")
    factories.make_version(model=other, by=sam, artifact=factories.artifact(bytes_))

    with pytest.raises(PermissionDenied, match="version 1 with the same artifact"):
        approve(background, request, sam)
    assert not selectors.request_list(user=sam, awaiting_me=True).exists()
    assert sam not in permissions.users_who_can(permissions.DECIDE, request.current_step)
    assert not Decision.objects.filter(actor=sam).exists()
