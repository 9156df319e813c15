"""The Celery application. Workers start with ``celery -A config worker``."""

import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("signoff")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def worker_command(*extra: str, quiet: bool = False) -> list[str]:
    """The command line of a worker process for this project (the demo and the tests start one);
    ``quiet``: without Celery's start-up banner."""
    return [
        sys.executable,
        "-m",
        "celery",
        *(["--quiet"] if quiet else []),
        "-A",
        "config",
        "worker",
        # Two processes: a job runs alone in its process, within the hard time limit.
        "--pool=prefork",
        "--concurrency=2",
        "--without-gossip",
        "--without-mingle",
        *extra,
    ]


def beat_command(*extra: str, quiet: bool = False) -> list[str]:
    """The command line of the scheduler that runs the sweeper every 10 seconds."""
    return [sys.executable, "-m", "celery", *(["--quiet"] if quiet else []), "-A", "config", "beat", *extra]
