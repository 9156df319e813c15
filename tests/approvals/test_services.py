"""The approval loop at the service layer: transitions, refusals and their records."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from approvals import services
from approvals.models import CheckRun, Decision, PromotionRequest, StepState
from audit.models import AuditEvent
from notifications.models import Notification
from registry.models import ModelVersion
from registry.roles import MANAGER
from registry.services import model_version_set_stage
from tests import factories

Status = PromotionRequest.Status


def submit(background, version, actor):
    with background():
        return services.promotion_request_submit(version=version, actor=actor)


def decide(background, request, actor, verdict="approve", comment="Looks good."):
    request.refresh_from_db()
    with background():
        return services.step_decide(request=request, actor=actor, verdict=verdict, comment=comment)


def test_submitting_runs_the_checks_then_waits_for_the_manager(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana)

    request = submit(background, version, people.dana)

    request.refresh_from_db()
    assert request.status == Status.AWAITING_REVIEW
    assert request.current_step.name == "manager_review"
    runs = CheckRun.objects.filter(step__request=request)
    assert sorted(runs.values_list("check_type", "status")) == [
        ("artifact_integrity", "passed"),
        ("metric_threshold", "passed"),
        ("pickle_scan", "passed"),
    ]
    assert all(run.started_at and run.finished_at for run in runs)
    version.refresh_from_db()
    assert version.submitted_at is not None
    assert Notification.objects.filter(request=request, event="review_requested").count() == 1


def test_the_whole_loop_deploys_and_archives_the_previous_production_version(people, risk_model, background):
    old = factories.make_version(model=risk_model, by=people.dana)
    with transaction.atomic():
        model_version_set_stage(version=old, stage=ModelVersion.Stage.PRODUCTION)
    version = factories.make_version(model=risk_model, by=people.dana)
    request = submit(background, version, people.dana)

    decide(background, request, people.mona)
    version.refresh_from_db()
    assert version.stage == "qa"
    decide(background, request, people.quinn)
    request.refresh_from_db()
    assert request.current_step.name == "deployment"
    decide(background, request, people.ivan, comment="Rolled out to the scoring cluster.")

    request.refresh_from_db()
    version.refresh_from_db()
    old.refresh_from_db()
    assert request.status == Status.COMPLETED
    assert version.stage == "production"
    assert old.stage == "archived"
    verbs = list(request.audit_events.order_by("pk").values_list("verb", flat=True))
    assert verbs.count("decision.approve") == 3
    assert verbs[0] == "request.submitted" and verbs[-1] == "request.completed"
    assert set(AuditEvent.objects.filter(verb="version.stage_changed").values_list("object_id", "to_state")) == {
        (str(version.pk), "qa"),
        (str(version.pk), "production"),
        (str(old.pk), "archived"),
    }


def test_a_version_below_the_accuracy_threshold_goes_back_to_its_author(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana, accuracy=0.62)

    request = submit(background, version, people.dana)

    request.refresh_from_db()
    assert request.status == Status.CHECKS_FAILED
    failed = CheckRun.objects.get(step__request=request, check_type="metric_threshold")
    assert failed.status == "failed"
    assert "0.62 is below the minimum 0.8" in failed.summary
    assert Notification.objects.filter(request=request, event="checks_failed").exists()
    assert not Notification.objects.filter(request=request, event="review_requested").exists()


def test_a_tampered_artifact_fails_the_integrity_check(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana)
    with open(version.artifact.path, "ab") as artifact:
        artifact.write(b"tampered")

    request = submit(background, version, people.dana)

    run = CheckRun.objects.get(step__request=request, check_type="artifact_integrity")
    assert run.status == "failed"
    assert run.result["expected"] != run.result["actual"]


def test_the_author_cannot_approve_their_own_request_even_with_the_role(people, risk_model, background):
    people.dana.groups.add(factories.Group.objects.get(name=MANAGER))
    request = submit(background, factories.make_version(model=risk_model, by=people.dana), people.dana)

    with pytest.raises(PermissionDenied, match="four-eyes"):
        decide(background, request, people.dana)
    assert not Decision.objects.exists()


def test_a_superuser_cannot_approve_what_they_submitted(people, risk_model, background):
    boss = factories.make_user("boss", "data scientist", "manager", team=people.risk, is_superuser=True)
    version = factories.make_version(model=risk_model, by=boss)
    request = submit(background, version, boss)

    with pytest.raises(PermissionDenied, match="four-eyes"):
        decide(background, request, boss)
    decide(background, request, people.mona)
    request.refresh_from_db()
    assert request.current_step.name == "qa_review"


def test_a_superuser_without_the_role_decides_nothing(people, risk_model, background):
    root = factories.make_user("root", is_superuser=True, is_staff=True)
    request = submit(background, factories.make_version(model=risk_model, by=people.dana), people.dana)

    with pytest.raises(PermissionDenied, match="Only manager may decide"):
        decide(background, request, root)
    assert not Decision.objects.exists()


def test_someone_without_the_steps_role_is_refused(people, risk_model, background):
    request = submit(background, factories.make_version(model=risk_model, by=people.dana), people.dana)

    for outsider in (people.nora, people.gary):
        with pytest.raises(PermissionDenied):
            decide(background, request, outsider)
    assert not Decision.objects.exists()


def test_a_reviewer_of_a_later_step_is_told_it_has_not_started(people, risk_model, background):
    request = submit(background, factories.make_version(model=risk_model, by=people.dana), people.dana)

    for later in (people.quinn, people.ivan):
        with pytest.raises(services.InvalidTransition, match="has not started yet"):
            decide(background, request, later)
    assert not Decision.objects.exists()


def test_rejecting_closes_the_request_and_needs_a_reason(people, risk_model, background):
    request = submit(background, factories.make_version(model=risk_model, by=people.dana), people.dana)

    with pytest.raises(ValidationError):
        decide(background, request, people.mona, verdict="reject", comment="  ")
    decide(background, request, people.mona, verdict="reject", comment="Recall on the minority class is too low.")

    request.refresh_from_db()
    assert request.status == Status.REJECTED
    assert request.closed_at is not None
    event = request.audit_events.get(verb="request.rejected")
    assert (event.actor, event.comment) == (people.mona, "Recall on the minority class is too low.")
    assert Notification.objects.filter(request=request, event="decision").count() == 1


def test_request_changes_returns_the_request_and_the_version_cannot_be_resubmitted(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana)
    request = submit(background, version, people.dana)
    decide(background, request, people.mona, verdict="request_changes", comment="Add a model card.")

    request.refresh_from_db()
    assert request.status == Status.CHANGES_REQUESTED
    with pytest.raises(services.InvalidTransition, match="register a new version"):
        submit(background, version, people.dana)
    fixed = factories.make_version(model=risk_model, by=people.dana)
    assert submit(background, fixed, people.dana).version == fixed


def test_deciding_a_closed_request_is_the_wrong_state_not_a_permission_problem(people, risk_model, background):
    request = submit(background, factories.make_version(model=risk_model, by=people.dana), people.dana)
    decide(background, request, people.mona, verdict="reject", comment="No.")

    with pytest.raises(services.InvalidTransition):
        decide(background, request, people.mike)


def test_a_stale_view_of_a_decided_step_gets_already_decided(people, risk_model, background):
    request = submit(background, factories.make_version(model=risk_model, by=people.dana), people.dana)
    request.refresh_from_db()
    stale = PromotionRequest.objects.select_related("current_step", "version", "model").get(pk=request.pk)
    decide(background, request, people.mona)

    with pytest.raises(services.AlreadyDecided):
        services.step_decide(request=stale, actor=people.mike, verdict="approve")
    assert Decision.objects.count() == 1


def test_submitting_twice_is_refused(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana)
    submit(background, version, people.dana)

    with pytest.raises(services.InvalidTransition, match="already has an open request"):
        submit(background, version, people.dana)


def test_only_data_scientists_who_see_the_model_may_submit(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana)
    for person in (people.mona, people.nora, people.gina):
        with pytest.raises(PermissionDenied):
            submit(background, version, person)
    assert not PromotionRequest.objects.exists()


def test_a_submitted_version_is_immutable(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana)
    submit(background, version, people.dana)
    version.refresh_from_db()

    version.metrics = {"accuracy": 0.99}
    with pytest.raises(ValueError, match="immutable"):
        version.save()


def test_the_database_allows_one_production_version_per_model(people, risk_model):
    first = factories.make_version(model=risk_model, by=people.dana)
    second = factories.make_version(model=risk_model, by=people.dana)
    ModelVersion.objects.filter(pk=first.pk).update(stage="production")

    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(stage="production")


def test_the_database_allows_one_open_request_per_version(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana)
    request = submit(background, version, people.dana)

    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionRequest.objects.create(
            model=risk_model, version=version, workflow_name="x", workflow_source="", submitted_by=people.dana
        )
    assert request.is_open


def test_background_steps_run_twice_do_the_work_once(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana)
    request = submit(background, version, people.dana)
    decide(background, request, people.mona)
    promote = StepState.objects.get(request=request, name="promote_to_qa")
    run = CheckRun.objects.filter(step__request=request).first()
    events = AuditEvent.objects.count()

    with background():
        services.step_execute(step_id=promote.pk)
        services.check_run_execute(check_run_id=run.pk)

    assert AuditEvent.objects.count() == events
    assert AuditEvent.objects.filter(verb="version.stage_changed", to_state="qa").count() == 1


def test_audit_events_cannot_be_changed(people, risk_model, background):
    request = submit(background, factories.make_version(model=risk_model, by=people.dana), people.dana)
    event = request.audit_events.first()

    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


@pytest.mark.postgres
def test_postgres_refuses_to_update_or_delete_audit_rows(people, risk_model, background):
    submit(background, factories.make_version(model=risk_model, by=people.dana), people.dana)

    for statement in ("UPDATE approvals_auditevent SET verb = 'x'", "DELETE FROM approvals_auditevent"):
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.exclude(verb="x").count() == AuditEvent.objects.count() > 0


def test_a_pickle_that_would_run_a_command_fails_its_checks_and_never_reaches_a_reviewer(
    people, risk_model, background, tmp_path
):
    marker = tmp_path / "pwned"
    payload = b"cposix\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."  # os.system(...) on load
    version = factories.make_version(
        model=risk_model, by=people.dana, artifact=factories.artifact(payload, name="credit.pkl")
    )

    request = submit(background, version, people.dana)

    run = CheckRun.objects.get(step__request=request, check_type="pickle_scan")
    assert run.status == "failed"
    assert "posix.system" in run.summary and "It was not loaded" in run.summary
    assert not marker.exists()
    request.refresh_from_db()
    assert request.status == Status.CHECKS_FAILED
    assert not Notification.objects.filter(request=request, event="review_requested").exists()
