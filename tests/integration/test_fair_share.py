"""Fair share of the workers: one team's slow checks do not hold up every team's.

A real worker (concurrency 2, the shipped settings) on a broker of its own; credit-risk's checks
are made slow (6 s each) while churn's run at their own speed."""

import pytest

from approvals import services
from approvals.models import CheckRun, JobKind
from jobs.models import Job
from tests import factories
from tests.integration.conftest import wait_for
from tests.integration.test_faults import state

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SLOW = 6


def submit(model, by):
    return services.promotion_request_submit(version=factories.make_version(model=model, by=by), actor=by)


def test_a_team_s_slow_checks_leave_a_worker_for_another_team(
    people, risk_model, growth_model, own_broker, background_processes
):
    slow = [submit(risk_model, people.dana) for _ in range(2)]  # six checks of 6 s each, queued first
    quick = submit(growth_model, people.gina)
    worker = background_processes("worker", own_broker, fault=f"pause:check:{risk_model.name}:{SLOW}")

    wait_for(lambda: state(quick.pk).status != "in_progress", timeout=SLOW * 3, what="churn's checks", worker=worker)
    assert state(quick.pk).status == "awaiting_review"
    for request in slow:
        wait_for(lambda r=request: state(r.pk).status != "in_progress", timeout=90, what="credit-risk's checks")
        assert state(request.pk).status == "awaiting_review"

    # Queued behind six slow checks on two workers, churn's would have finished after two of them;
    # they took one worker's turns while credit-risk kept the other, and finished before any.
    runs = CheckRun.objects.filter(step__request__in=[*slow, quick])
    quick_finished = max(runs.filter(step__request=quick).values_list("finished_at", flat=True))
    slow_finished = sorted(runs.exclude(step__request=quick).values_list("finished_at", flat=True))
    assert quick_finished < slow_finished[0], (quick_finished, slow_finished)
    assert not Job.objects.filter(kind=JobKind.RUN_CHECK).exclude(status=Job.Status.DONE).exists()
