"""Two managers approving the same step at the same moment: exactly one decision counts. Checks
measuring one version at the same moment: one measurement is stored and audited."""

import threading

import pytest
from django.db import connections

from approvals import services
from approvals.models import Decision, PromotionRequest
from audit.models import AuditEvent
from evidence import measurements
from evidence.checks.inputs import dataset_ref, version_ref
from evidence.measurements import measurement_for
from evidence.models import EvaluationDataset, Measurement
from tests import factories
from tests.approvals.test_compare import bundle
from tests.evidence.test_datasets import FEATURES, register, version_with

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_decisions_on_one_step_record_exactly_one(people, risk_model, eager_tasks):
    version = factories.make_version(model=risk_model, by=people.dana)
    request = services.promotion_request_submit(version=version, actor=people.dana)
    request.refresh_from_db()
    assert request.status == PromotionRequest.Status.AWAITING_REVIEW

    start = threading.Barrier(2)
    outcomes = {}

    def approve(reviewer):
        # Each thread has its own database connection, as two web workers would.
        seen = PromotionRequest.objects.select_related("current_step", "version", "model").get(pk=request.pk)
        start.wait()
        try:
            services.step_decide(request=seen, actor=reviewer, verdict="approve", comment=f"{reviewer} approves")
            outcomes[reviewer.username] = "decided"
        except services.AlreadyDecided as error:
            outcomes[reviewer.username] = f"refused: {error}"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(person,)) for person in (people.mona, people.mike)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcome.split(":")[0] for outcome in outcomes.values()) == ["decided", "refused"]
    assert "already decided" in next(o for o in outcomes.values() if o.startswith("refused"))
    assert Decision.objects.filter(request=request).count() == 1
    request.refresh_from_db()
    assert request.current_step.name == "qa_review"
    assert request.audit_events.filter(verb="decision.approve").count() == 1


def test_checks_measuring_one_version_at_once_measure_it_once(people, api, risk_model, monkeypatch):
    assert register(api, people.quinn).status_code == 202
    version = version_with(people, risk_model, bundle(FEATURES))
    dataset = EvaluationDataset.objects.get(model=risk_model)
    sandbox_runs = []
    real_sandboxed = measurements.sandboxed

    def counted(task, *args, **kwargs):  # the real sandbox, counted
        sandbox_runs.append(task)
        return real_sandboxed(task, *args, **kwargs)

    monkeypatch.setattr(measurements, "sandboxed", counted)
    start = threading.Barrier(4)
    measured = []

    def measure():
        start.wait()
        try:
            measured.append(measurement_for(version_ref(version), dataset_ref(dataset)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=measure) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(measured) == 4 and all(isinstance(m, Measurement) for m in measured)
    assert len({m.pk for m in measured}) == 1  # every check reads the one that was stored
    assert Measurement.objects.filter(version=version).count() == 1
    assert AuditEvent.objects.filter(verb="version.measured", model=risk_model).count() == 1
    assert sandbox_runs == ["evidence.sandbox.evaluation:measure"]  # the others waited for it


def test_two_identical_delegations_at_once_make_one(people):
    from datetime import timedelta

    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from approvals import delegations
    from approvals.models import Delegation

    start, now, outcomes = threading.Barrier(2), timezone.now(), []

    def name_delegate():
        start.wait()
        try:
            delegations.delegation_create(
                principal=people.mona, delegate=people.mike, starts_at=now, ends_at=now + timedelta(days=2),
                reason="On leave.", actor=people.mona,
            )  # fmt: skip
            outcomes.append("created")
        except ValidationError as error:
            outcomes.append(f"refused: {error.messages[0]}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=name_delegate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(o.split(":")[0] for o in outcomes) == ["created", "refused"], outcomes
    assert Delegation.objects.count() == 1


def test_checks_finishing_at_once_have_their_step_concluded_once_by_the_last(people, risk_model):
    """Each check's outcome is recorded by its own worker. Only the last to finish has the step
    concluded. Of two checks finishing at the same moment, the later waits for the earlier's
    outcome (the step's row is locked) and has the step concluded: no conclusion is lost (each
    seeing the other unfinished), none runs twice."""
    from django.db import transaction

    from approvals.models import CheckRun, JobKind
    from jobs.models import Job

    version = factories.make_version(model=risk_model, by=people.dana)
    request = services.promotion_request_submit(version=version, actor=people.dana)  # jobs wait: no worker
    runs = list(CheckRun.objects.filter(step__request=request).order_by("pk"))
    assert len(runs) == 3
    services.check_run_record(check_run_id=runs[0].pk, status=CheckRun.Status.PASSED, summary="ok")
    assert not Job.objects.filter(kind=JobKind.CONCLUDE_CHECKS).exists()  # two more to go

    first_recorded, first_commits, second_done = threading.Event(), threading.Event(), threading.Event()

    def first():
        try:
            with transaction.atomic():  # recorded, not yet committed while the second records
                services.check_run_record(check_run_id=runs[1].pk, status=CheckRun.Status.PASSED, summary="ok")
                first_recorded.set()
                first_commits.wait(timeout=30)
        finally:
            connections.close_all()

    def second():
        first_recorded.wait(timeout=30)
        try:
            services.check_run_record(check_run_id=runs[2].pk, status=CheckRun.Status.PASSED, summary="ok")
        finally:
            second_done.set()
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    # The second waits for the first's lock; without it, it would finish now, seeing the first unfinished.
    assert not second_done.wait(timeout=1)
    first_commits.set()
    for thread in threads:
        thread.join(timeout=30)

    assert set(CheckRun.objects.filter(step__request=request).values_list("status", flat=True)) == {"passed"}
    assert Job.objects.filter(kind=JobKind.CONCLUDE_CHECKS).count() == 1
