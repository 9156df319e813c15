"""A submission accepted while the broker is down is not lost: requeue_stalled finishes it."""

import pytest
from django.core.management import call_command

from approvals import services
from approvals.models import PromotionRequest
from config.celery import app as celery_app
from tests import factories
from tests.brokers import point_the_app_at

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker_down():
    """Point the Celery app at a port where no broker listens, and do not retry publishing."""
    saved = celery_app.conf.broker_url, celery_app.conf.task_publish_retry, celery_app.conf.broker_connection_timeout
    point_the_app_at("redis://127.0.0.1:9/0")
    celery_app.conf.task_publish_retry = False
    celery_app.conf.broker_connection_timeout = 1
    yield
    celery_app.conf.task_publish_retry, celery_app.conf.broker_connection_timeout = saved[1:]
    point_the_app_at(saved[0])


def test_a_submission_made_while_the_broker_is_down_is_kept_and_finished_later(
    people, risk_model, broker_down, eager_tasks, capsys
):
    celery_app.conf.task_always_eager = False
    version = factories.make_version(model=risk_model, by=people.dana)

    request = services.promotion_request_submit(version=version, actor=people.dana)

    request.refresh_from_db()
    assert request.status == PromotionRequest.Status.IN_PROGRESS
    assert request.current_step.check_runs.filter(status="pending").count() == 3  # the default workflow's checks

    celery_app.conf.task_always_eager = True
    call_command("requeue_stalled", "--older-than", "0")

    request.refresh_from_db()
    assert request.status == PromotionRequest.Status.AWAITING_REVIEW
    assert "Re-queued 3 pending jobs" in capsys.readouterr().out
