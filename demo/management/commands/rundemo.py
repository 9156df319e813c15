"""Start the demo: a Celery worker process and the development web server, stopped together."""

import os
import signal
import subprocess

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config.celery import beat_command, worker_command
from demo.seed import ACCOUNTS, DEMO_PASSWORD


def start_worker() -> subprocess.Popen:
    """A real worker process with this process's environment (same database and broker)."""
    return subprocess.Popen(
        worker_command("--loglevel=INFO"),
        cwd=settings.BASE_DIR,
        env=os.environ.copy(),
    )


def start_beat() -> subprocess.Popen:
    """The scheduler that runs the sweeper, so stalled work resumes without anyone's command."""
    return subprocess.Popen(beat_command("--loglevel=WARNING"), cwd=settings.BASE_DIR, env=os.environ.copy())


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
        self.stdout.write(self.style.SUCCESS(f"\nSignoff is starting on http://127.0.0.1:{port}/\n"))
        self.stdout.write(f"Demo accounts (password '{DEMO_PASSWORD}'):")
        for line in account_lines():
            self.stdout.write(line)
        if "filebased" in settings.EMAIL_BACKEND:
            self.stdout.write(f"E-mails are written to {settings.EMAIL_FILE_PATH}")
        self.stdout.write("Press Ctrl-C to stop the web server, the worker and the scheduler.\n")
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
        except KeyboardInterrupt:
            pass
        finally:
            stop_worker(beat)
            stop_worker(worker)
            self.stdout.write("Stopped the web server, the scheduler and the worker.")
