"""Start the demo: a Celery worker process and the development web server, stopped together."""

import os
import signal
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config.celery import beat_command, worker_command
from demo import mlflow_demo
from demo.seed import ACCOUNTS, DEMO_PASSWORD


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

    def handle(self, *args, port, **options):
        if "SIGNOFF_BASE_URL" not in os.environ:
            # E-mail links point at the address served here, in this process and in the worker.
            settings.SIGNOFF_BASE_URL = os.environ["SIGNOFF_BASE_URL"] = f"http://127.0.0.1:{port}"
        worker = start_worker()
        beat = start_beat()
        mlflow = None
        if mlflow_demo.enabled():
            mlflow, url = mlflow_demo.server_start()
            mlflow_demo.connect(url, log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"\nSignoff is starting on http://127.0.0.1:{port}/\n"))
        self.stdout.write(f"Demo accounts (password '{DEMO_PASSWORD}'):")
        for line in account_lines():
            self.stdout.write(line)
        if "filebased" in settings.EMAIL_BACKEND:
            self.stdout.write(f"E-mails are written to {settings.EMAIL_FILE_PATH}")
        self.stdout.write("Press Ctrl-C to stop the web server, the worker and the scheduler.\n")
        signal.signal(signal.SIGTERM, _interrupt)
        # Static files come from the apps (WhiteNoise's finders); its folder for collected ones
        # need only exist. The development server's own banner is Django's, not the demo's.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("DJANGO_RUNSERVER_HIDE_WARNING", "true")
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
        except KeyboardInterrupt:
            pass
        finally:
            stop_worker(beat)
            stop_worker(worker)
            if mlflow is not None:
                mlflow_demo.server_stop(mlflow)
            self.stdout.write("Stopped the web server, the scheduler and the worker.")
