"""The Celery application. Workers start with ``celery -A config worker``."""

import os
import sys

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("signoff")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def start_the_sandbox_fork_server(**_):
    """Each pool process forks its sandboxed checks from a fork server that has the libraries
    imported (``approvals.sandbox.zygote``); it starts importing now, while the worker waits."""
    from approvals.sandbox import enable_zygote

    enable_zygote()


@worker_ready.connect
def take_over_abandoned_jobs(sender=None, **_):
    """A worker that starts (after a crash, say) sweeps at once rather than waiting for beat."""
    sender.app.send_task("approvals.tasks.sweep_jobs")


@worker_process_shutdown.connect
def stop_the_sandbox_fork_server(**_):
    from approvals.sandbox import disable_zygote

    disable_zygote()


def worker_command(*extra: str) -> list[str]:
    """The command line of a worker process for this project (the demo and the tests start one)."""
    return [
        sys.executable,
        "-m",
        "celery",
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


def beat_command(*extra: str) -> list[str]:
    """The command line of the scheduler that runs the sweeper every 10 seconds."""
    return [sys.executable, "-m", "celery", "-A", "config", "beat", *extra]
