"""Deadlines with the real parts: Celery beat triggers the job runner's sweep in a real worker,
the reminder and the escalation go out over SMTP, each once, and a worker killed with SIGKILL
inside the escalation's transaction leaves it to the next worker, still sent exactly once.
The step's clock is moved, not the shipped limits."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals import services
from audit.models import AuditEvent
from tests import factories
from tests.approvals.test_deadlines import WORKFLOW
from tests.integration.conftest import wait_for
from tests.integration.test_faults import killed, state

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def count(verb, request):
    return AuditEvent.objects.filter(verb=verb, request=request).count()


def test_beat_reminds_then_escalates_once_even_when_the_worker_dies_midway(
    people, risk_model, own_broker, background_processes, smtp_server, use_workflow
):
    use_workflow(WORKFLOW.replace("{due}", "1d"))
    smtp_server.clear()
    first = background_processes("worker", own_broker, fault="during_deadline")
    background_processes("beat", own_broker)
    request = services.promotion_request_submit(
        version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
    )
    wait_for(lambda: state(request.pk).status == "awaiting_review", what="the checks", worker=first)
    review = request.steps.filter(name="manager_review")
    review.update(remind_at=timezone.now() - timedelta(minutes=1))

    # The first deadline the sweep passes kills the worker inside its transaction: nothing is kept.
    assert killed(first, timeout=60) < 0
    assert count("step.reminder", request) == 0
    second = background_processes("worker", own_broker)
    wait_for(lambda: count("step.reminder", request) == 1, timeout=60, what="the reminder", worker=second)
    wait_for(lambda: smtp_server.to("mona@example.com") and any("Reminder" in m["Subject"] for m in
             smtp_server.to("mona@example.com")), what="the reminder e-mail", worker=second)  # fmt: skip

    review.update(due_at=timezone.now() - timedelta(minutes=1))
    wait_for(lambda: count("step.overdue", request) == 1, timeout=60, what="the escalation", worker=second)
    wait_for(lambda: any("Overdue" in m["Subject"] for m in smtp_server.to("ivan@example.com")),
             what="the escalation e-mail to the IT engineer", worker=second)  # fmt: skip
    time.sleep(25)  # two more sweeps of beat: nothing is sent again
    assert (count("step.reminder", request), count("step.overdue", request)) == (1, 1)
    for address in ("mona@example.com", "mike@example.com"):
        subjects = [m["Subject"] for m in smtp_server.to(address)]
        assert sum("Reminder" in s for s in subjects) == 1 and sum("Overdue" in s for s in subjects) == 1, subjects
    assert sum("Overdue" in m["Subject"] for m in smtp_server.to("ivan@example.com")) == 1
