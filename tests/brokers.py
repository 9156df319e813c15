"""Pointing the test process's Celery app at another broker (a test's own Redis, or none)."""

from config.celery import app as celery_app


def point_the_app_at(broker_url: str | None) -> None:
    """Publish to ``broker_url`` from now on. Celery caches the write URL and the connection and
    producer pools after the first publish, so all three are reset."""
    celery_app.conf.broker_url = broker_url
    celery_app.conf.broker_write_url = broker_url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
