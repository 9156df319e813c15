"""Start the demo: a Celery worker process and the development web server, stopped together.

With ``--seed`` (what ``make demo`` runs) a database without the demo is seeded in a process of
its own while the pages already serve and say how far it got; the worker and the scheduler start
once it is complete, so they never pick up the seeding's own work."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config.celery import beat_command, worker_command
from demo import mlflow_demo
from demo.state import ACCOUNTS, DEMO_PASSWORD, demo_exists, seeding_marker


def _quiet_environment() -> dict:
    """This process's environment (same database and broker) for the demo's worker and beat,
    which say only what matters: warnings and errors. (Run as root, as in a container, Celery
    warns against it at every start; the demo's processes are local and short-lived.)"""
    env = os.environ.copy()
    env["PYTHONWARNINGS"] = "ignore:You're running the worker with superuser privileges"
    return env


def start_worker() -> subprocess.Popen:
    """A real worker process with this process's environment (same database and broker)."""
    return subprocess.Popen(
        worker_command("--loglevel=WARNING", quiet=True), cwd=settings.BASE_DIR, env=_quiet_environment()
    )


def start_beat() -> subprocess.Popen:
    """The scheduler that runs the sweeper, so stalled work resumes without anyone's command."""
    return subprocess.Popen(
        beat_command("--loglevel=WARNING", quiet=True), cwd=settings.BASE_DIR, env=_quiet_environment()
    )


def stop_worker(worker: subprocess.Popen, timeout: float = 15) -> int:
    """Ask the worker to finish its current task and stop; kill it if it does not."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    return worker.returncode


def _wait_for_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)


def start_seeding() -> subprocess.Popen:
    """``seed_demo`` in its own process, telling the pages its progress (``seeding_marker``)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "seed_demo", "--progress"],
        cwd=settings.BASE_DIR,
        env=_quiet_environment(),
        start_new_session=True,  # Ctrl-C reaches the runner, which stops it (no traceback)
    )


def account_lines() -> list[str]:
    """What the runner prints of each demo account: its name and role."""
    return [f"  {username:<6} {role or 'administrator (superuser)'}" for username, _first, _last, role in ACCOUNTS]


def _interrupt(signum, frame):
    """SIGTERM (from a process manager or `kill`) stops the demo the way Ctrl-C does."""
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the demo: web server on 127.0.0.1:PORT, a Celery worker and beat. Ctrl-C stops all three."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument(
            "--seed", action="store_true",
            help="Seed the demo first when the database has none, in the background while the pages serve.",
        )  # fmt: skip

    def handle(self, *args, port, seed=False, **options):
        if "SIGNOFF_BASE_URL" not in os.environ:
            # E-mail links point at the address served here, in this process and in the worker.
            settings.SIGNOFF_BASE_URL = os.environ["SIGNOFF_BASE_URL"] = f"http://127.0.0.1:{port}"
        if seeding_marker().exists() and demo_exists():
            self.stderr.write(
                f"An earlier seeding of the demo did not finish. Delete {settings.DATABASES['default']['NAME']} "
                "and run `make demo` again."
            )
            return
        self.stopping = False
        seeding = seed and not demo_exists()
        if seeding:
            seeding_marker().write_text("starting")  # the first page says so already
        background = {}  # the seeding, worker, beat and MLflow server, once they run
        starter = threading.Thread(target=self._start_background, args=(port, seeding, background), daemon=True)
        if not seeding:
            self._start_background(port, seeding, background)  # nothing to wait for: before the pages
        self.stdout.write(self.style.SUCCESS(f"\nSignoff is starting on http://127.0.0.1:{port}/\n"))
        self.stdout.write(f"Demo accounts (password '{DEMO_PASSWORD}'):")
        for line in account_lines():
            self.stdout.write(line)
        if "filebased" in settings.EMAIL_BACKEND:
            self.stdout.write(f"E-mails are written to {settings.EMAIL_FILE_PATH}")
        if seeding:
            self.stdout.write("The demo's models are being trained and checked; the pages say when they are ready.")
            starter.start()
        self.stdout.write("Press Ctrl-C to stop the web server, the worker and the scheduler.\n")
        signal.signal(signal.SIGTERM, _interrupt)
        # Static files come from the apps (WhiteNoise's finders); its folder for collected ones
        # need only exist. The development server's own banner is Django's, not the demo's.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("DJANGO_RUNSERVER_HIDE_WARNING", "true")
        try:
            # `make demo` ran the system checks with its migrations a moment ago.
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, skip_checks=True)
        except KeyboardInterrupt:
            pass
        finally:
            self.stopping = True
            if "seeding" in background and background["seeding"].poll() is None:
                stop_worker(background["seeding"])
            if starter.is_alive():
                starter.join(timeout=30)
            for name in ("beat", "worker"):
                if name in background:
                    stop_worker(background[name])
            if "mlflow" in background:
                mlflow_demo.server_stop(background["mlflow"])
            self.stdout.write("Stopped the web server, the scheduler and the worker.")

    def _start_background(self, port, seeding: bool, background: dict) -> None:
        """The worker and beat (and MLflow's demo server), after the seeding when there is one.
        The seeding starts once the pages answer: its start would slow the web server's."""
        if seeding:
            _wait_for_port(int(port), seconds=30)
            if self.stopping:
                return
            background["seeding"] = start_seeding()
        if seeding and background["seeding"].wait() != 0:
            seeding_marker().write_text("failed")
            if not self.stopping:
                self.stderr.write("Seeding the demo failed (see above); the worker was not started.")
            return
        if self.stopping:
            return
        background["worker"] = start_worker()
        background["beat"] = start_beat()
        if mlflow_demo.enabled():
            background["mlflow"], url = mlflow_demo.server_start()
            mlflow_demo.connect(url, log=self.stdout.write)
