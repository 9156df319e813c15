"""Real moving parts for integration tests: an SMTP server and a Celery worker process.

The worker is a separate ``celery -A config worker`` process on the Redis broker, connected
to the test database on PostgreSQL, sending mail over SMTP to an aiosmtpd server in this
process. Tests using it need a transactional database so the worker sees committed rows.
"""

import os
import subprocess
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings

from config.celery import app as celery_app
from config.celery import beat_command, worker_command
from tests.brokers import point_the_app_at
from tests.services import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Mailbox:
    """Collects every message the SMTP server receives."""

    def __init__(self):
        self.messages = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address):
        with self._lock:
            return [message for recipients, message in self.messages if address in recipients]

    def clear(self):
        with self._lock:
            self.messages.clear()


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    mailbox.port = free_port()  # aiosmtpd cannot start on port 0
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    yield mailbox
    controller.stop()


def start_process(command, *, log_path, env_extra=None, ready="ready."):
    """A worker or beat process in a process group of its own, on the test database; it waits for
    ``ready`` in its log. Its ``log_path`` helps the failure messages."""
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        **(env_extra or {}),
    }
    log = open(log_path, "a")
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    process.log_path = log_path
    deadline = time.monotonic() + 60
    while ready and ready not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{command[4:6]} did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    return process


def stop_process(process, timeout=20):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


@pytest.fixture(scope="package")
def celery_worker_process(django_db_setup, django_db_blocker, smtp_server, tmp_path_factory):
    """A real worker process for this package's tests, on the test database and the Redis broker.
    It stops when they end: a worker left running would take the jobs of later tests that run
    them in-process (tests/pages/test_browser_loop.py watches checks run)."""
    database = settings.DATABASES["default"]
    if "postgresql" not in database["ENGINE"] or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail("celery_worker_process needs PostgreSQL and Redis: mark the test with @pytest.mark.worker")
    # Messages left over from earlier runs must not reach this worker.
    celery_app.control.purge()
    worker = start_process(
        worker_command("--loglevel=INFO", "--hostname", f"test-{os.getpid()}@%h"),
        log_path=tmp_path_factory.mktemp("worker") / "worker.log",
        env_extra={"EMAIL_PORT": str(smtp_server.port)},
    )
    yield worker
    stop_process(worker)


def wait_for(condition, *, timeout=45, what="the worker", worker=None):
    """Poll ``condition`` until it returns something truthy; fail with the worker's log if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    log = worker.log_path.read_text()[-4000:] if worker is not None else ""
    if worker is not None and os.environ.get("SIGNOFF_WORKER_LOG"):
        Path(os.environ["SIGNOFF_WORKER_LOG"]).write_text(worker.log_path.read_text())
    pytest.fail(f"timed out waiting for {what}\n--- worker log ---\n{log}")


@pytest.fixture(autouse=True)
def worker_drained(request):
    """After a test that used the worker, wait until it has finished that test's work, so that
    the next test's messages do not queue behind it (and its rows are not flushed under it)."""
    yield
    if "celery_worker_process" not in request.fixturenames:
        return
    from approvals.models import CheckRun, StepState
    from notifications.models import Notification

    def idle():
        return not (
            Notification.objects.filter(status__in=["pending", "sending"]).exists()
            or CheckRun.objects.filter(status__in=["pending", "running"], step__status="running").exists()
            or StepState.objects.filter(status="running", kind__in=["promotion", "deployment"]).exists()
        )

    wait_for(idle, timeout=90, what="the worker to finish the test's work")


# The shipped settings, not shortened limits: leases of 20 s renewed by a heartbeat, a sweep every
# 10 s and at each worker's start, hand-over after 20 s. Recovery within 60 s is what they give.
SHIPPED_LIMITS = (
    "SIGNOFF_JOB_SOFT_LIMIT", "SIGNOFF_JOB_HARD_LIMIT", "SIGNOFF_JOB_LEASE_SECONDS", "SIGNOFF_SWEEP_SECONDS",
    "SIGNOFF_JOB_HANDOVER_SECONDS",
)  # fmt: skip


@pytest.fixture
def own_broker(tmp_path):
    """A Redis database of this test's own; the app publishes there while the test runs."""
    saved = celery_app.conf.broker_url
    url = "redis://127.0.0.1:6379/14"
    point_the_app_at(url)
    celery_app.control.purge()
    yield url
    point_the_app_at(saved)


@pytest.fixture
def background_processes(tmp_path, smtp_server):
    """``start(kind, broker, fault=None)``: a worker or beat; all are stopped after the test."""
    started = []

    def start(kind, broker, fault=None):
        assert not any(name in os.environ for name in SHIPPED_LIMITS), "fault tests run with the shipped limits"
        env = {"CELERY_BROKER_URL": broker, "EMAIL_PORT": str(smtp_server.port)}
        if fault:
            env.update(SIGNOFF_FAULT=fault, SIGNOFF_FAULT_MARKER=str(tmp_path / f"fault-{fault}"))
        if kind == "worker":
            command = worker_command("--loglevel=INFO", "--hostname", f"fault-{len(started)}@%h")
        else:
            command = beat_command("--loglevel=INFO", "--schedule", str(tmp_path / "beat-schedule"))
        process = start_process(
            command,
            log_path=tmp_path / f"{kind}-{len(started)}.log",
            env_extra=env,
            ready="ready." if kind == "worker" else "beat: Starting",
        )
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        stop_process(process)
