"""The job runner: exclusive claims, leases, transient and permanent errors with their defined
outcomes, and workflows naming people who do not exist."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from approvals import services
from approvals.models import Decision, JobKind, PromotionRequest
from jobs import runner as jobs
from jobs.models import Job
from notifications.models import SEND_NOTIFICATION
from registry import services as registry_services
from tests import factories


def a_pending_check_job(people, risk_model):
    request = services.promotion_request_submit(
        version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
    )
    return Job.objects.filter(
        kind=JobKind.RUN_CHECK, target_id__in=request.current_step.check_runs.values("pk")
    ).first()


def test_a_job_is_claimed_by_one_worker_only(people, risk_model):
    job = a_pending_check_job(people, risk_model)
    assert jobs.job_claim(job.pk) is not None
    assert jobs.job_claim(job.pk) is None  # a redelivered message finds it running under a lease


def test_a_job_whose_worker_died_is_claimed_again_once_its_lease_expires(people, risk_model):
    job = a_pending_check_job(people, risk_model)
    jobs.job_claim(job.pk)
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    again = jobs.job_claim(job.pk)
    assert again is not None and again.attempts == 2


def test_the_sweeper_hands_over_jobs_lost_with_the_broker(people, risk_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the broker never hears of them
        job = a_pending_check_job(people, risk_model)
    Job.objects.filter(kind=job.kind).update(run_after=timezone.now() - timedelta(minutes=1))
    swept = jobs.jobs_sweep()
    assert swept["handed_over"] == 3  # the three check runs of the request (default workflow)


def deploy_request(people, risk_model, background):
    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
    for reviewer in (people.mona, people.quinn):
        request.refresh_from_db()
        with background():
            services.step_decide(request=request, actor=reviewer, verdict="approve")
    request.refresh_from_db()
    return request


def test_a_failed_deployment_waits_for_the_it_engineer_who_can_deploy_again(
    people, risk_model, background, monkeypatch, mailoutbox
):
    request = deploy_request(people, risk_model, background)
    real = registry_services.model_version_set_stage

    def target_unreachable(**kwargs):
        raise RuntimeError("the scoring cluster refused the rollout")

    monkeypatch.setattr(services, "model_version_set_stage", target_unreachable)
    mailoutbox.clear()
    with background():
        services.step_decide(request=request, actor=people.ivan, verdict="approve", comment="Go.")

    request.refresh_from_db()
    step = request.current_step
    assert (request.status, step.name, step.status, step.round) == ("awaiting_review", "deployment", "waiting", 2)
    assert "the scoring cluster refused the rollout" in step.note
    assert request.version.stage == "qa"  # still approved for production, not deployed
    assert request.audit_events.filter(verb="deployment.failed").count() == 1
    assert any("ivan@example.com" in m.to for m in mailoutbox)
    assert PromotionRequest.objects.filter(pk=request.pk).get() in services.permissions.requests_awaiting(people.ivan)

    monkeypatch.setattr(services, "model_version_set_stage", real)
    with background():
        services.step_decide(request=request, actor=people.ivan, verdict="approve", comment="Cluster back.")
    request.refresh_from_db()
    assert request.status == "completed"
    assert Decision.objects.filter(step=step, actor=people.ivan).count() == 2  # one per round


def test_a_failed_deployment_can_be_handed_back(people, risk_model, background, monkeypatch):
    request = deploy_request(people, risk_model, background)
    monkeypatch.setattr(services, "model_version_set_stage", lambda **kwargs: 1 / 0)
    with background():
        services.step_decide(request=request, actor=people.ivan, verdict="approve", comment="Go.")
    request.refresh_from_db()
    with background():
        services.step_decide(request=request, actor=people.ivan, verdict="reject", comment="Needs a smaller model.")
    request.refresh_from_db()
    assert request.status == "rejected"


UNKNOWN_PEOPLE = """
name: typo
steps:
  - name: checks
    type: checks
    checks:
      - type: artifact_integrity
  - name: review
    type: approval
    approvers: [managers]
    users: [bob]
"""


def test_a_workflow_naming_unknown_people_is_refused_before_anything_is_written(people, risk_model, use_workflow):
    """Saved while the role and the user existed; the role was deleted and bob left since."""
    from django.contrib.auth.models import Group

    Group.objects.create(name="managers")
    bob = factories.make_user("bob")
    use_workflow(UNKNOWN_PEOPLE)
    Group.objects.filter(name="managers").delete()
    bob.is_active = False
    bob.save()
    version = factories.make_version(model=risk_model, by=people.dana)
    with pytest.raises(services.InvalidTransition, match="no role called 'managers'.*no active user called 'bob'"):
        services.promotion_request_submit(version=version, actor=people.dana)
    assert not PromotionRequest.objects.exists()
    with pytest.raises(SystemCheckError, match="signoff.E001.*no active user called 'bob'"):
        call_command("check", "--database", "default")


@pytest.mark.django_db(transaction=True)
def test_a_running_job_renews_its_short_lease_until_it_ends(people, risk_model, settings):
    """The heartbeat keeps a job that runs longer than its lease; the lease is short so that a dead
    worker's job is free within seconds."""
    import time

    from jobs import runner

    settings.SIGNOFF_JOB_LEASE_SECONDS = 1
    seen = []

    def slow(target_id, *, final_attempt):
        for _ in range(4):
            time.sleep(0.5)
            seen.append(Job.objects.get(kind="test_slow", target_id=target_id).lease_expires_at)

    runner.register("test_slow", target=type(risk_model), run=slow, fail=lambda pk, reason: None)
    job = Job.objects.create(kind="test_slow", target_id=risk_model.pk)
    assert runner.job_run(job.pk) == Job.Status.DONE
    assert len(set(seen)) >= 2 and seen[-1] > seen[0]  # renewed while it ran, past its first lease
    assert seen[0] - Job.objects.get(pk=job.pk).created_at < timedelta(seconds=3)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE and job.lease_expires_at is None


def check_jobs(team_ids: list[int]) -> list[Job]:
    return [Job.objects.create(kind=JobKind.RUN_CHECK, target_id=n, share=team) for n, team in enumerate(team_ids)]


def test_a_team_at_its_share_steps_back_while_another_team_waits(db, settings, django_capture_on_commit_callbacks):
    settings.SIGNOFF_CHECKS_PER_TEAM = 1
    a1, a2, b1 = check_jobs([1, 1, 2])
    assert jobs.job_claim(a1.pk) is not None  # team 1's first check runs

    with django_capture_on_commit_callbacks() as offered_again:
        assert jobs.job_claim(a2.pk) is None  # its second waits: team 2 has a check waiting
    a2.refresh_from_db()
    assert (a2.status, a2.attempts) == (Job.Status.PENDING, 0) and a2.run_after > timezone.now()
    assert len(offered_again) == 1  # handed to the broker again, in a second
    assert jobs.job_claim(b1.pk) is not None

    # Nobody else waits now: team 1 may use every worker.
    Job.objects.filter(pk=a2.pk).update(run_after=timezone.now())
    assert jobs.job_claim(a2.pk) is not None


def test_teams_at_their_share_do_not_hold_each_other_back(db, settings):
    settings.SIGNOFF_CHECKS_PER_TEAM = 1
    a1, b1, a2, b2 = check_jobs([1, 2, 1, 2])
    assert jobs.job_claim(a1.pk) and jobs.job_claim(b1.pk)
    # Both teams run their share; the only waiting check is the other full team's: no one steps back.
    assert jobs.job_claim(a2.pk) is not None
    assert jobs.job_claim(b2.pk) is not None


def test_a_submission_s_checks_take_their_team_s_share(people, risk_model):
    job = a_pending_check_job(people, risk_model)
    assert job.share == people.risk.pk
    assert Job.objects.filter(kind=SEND_NOTIFICATION, share__isnull=False).count() == 0


def test_each_kind_names_the_model_its_jobs_work_on(people, risk_model, admin_client):
    from jobs import runner

    version = factories.make_version(model=risk_model, by=people.dana)
    request = services.promotion_request_submit(version=version, actor=people.dana)
    jobs = list(Job.objects.filter(kind__in=[JobKind.RUN_CHECK, SEND_NOTIFICATION]))
    assert jobs, "submitting writes a job per check and per e-mail"
    for job in jobs:
        target = runner.job_target(job)
        assert target is not None and target.pk == job.target_id
        assert type(target).__name__ == {JobKind.RUN_CHECK: "CheckRun", SEND_NOTIFICATION: "Notification"}[job.kind]
        about = target.request_id if job.kind == SEND_NOTIFICATION else target.step.request_id
        assert about == request.pk
    page = admin_client.get("/admin/jobs/job/").content.decode()
    assert str(runner.job_target(jobs[0])) in page


def test_a_job_of_a_kind_nobody_registered_is_refused_when_written(db):
    from jobs import runner

    with pytest.raises(LookupError, match="no app registered the job kind 'nonsense'"):
        runner.job_enqueue("nonsense", 1)
    assert not Job.objects.filter(kind="nonsense").exists()
