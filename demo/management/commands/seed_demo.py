"""Create the demo accounts, models and requests (idempotent)."""

from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from config.celery import app as celery_app
from demo.seed import seed_demo
from demo.state import ACCOUNTS, DEMO_PASSWORD, seeding_marker
from evidence.sandbox import disable_zygote, enable_zygote


class Command(BaseCommand):
    help = "Seed the demo: four role accounts and an admin, three trained models, requests in several states."

    def add_arguments(self, parser):
        parser.add_argument(
            "--progress", action="store_true",
            help="Keep the pages told how far seeding got (var/demo-seeding), as `rundemo --seed` does.",
        )  # fmt: skip

    def handle(self, *args, progress=False, **options):
        # Run the background steps inline so every demo request settles before the server
        # starts, and keep the seeding's e-mails out of the demo's mailbox.
        # The checks' sandboxed tasks fork from a fork server, as in a worker.
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        enable_zygote()
        try:
            with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
                created = seed_demo(log=self.stdout.write, progress=self._progress if progress else None)
            if progress:
                seeding_marker().unlink(missing_ok=True)  # complete: the pages stop saying so
        finally:
            celery_app.conf.task_always_eager = eager
            disable_zygote()
        if not created:
            self.stdout.write("The demo data is already there; nothing to do.")
            return
        names = ", ".join(username for username, *_ in ACCOUNTS)
        self.stdout.write(self.style.SUCCESS(f"Demo seeded. Accounts: {names} (password {DEMO_PASSWORD})."))

    @staticmethod
    def _progress(done: int, total: int) -> None:
        marker = seeding_marker()
        written = marker.with_suffix(".new")
        written.write_text(f"{done}/{total}")
        written.replace(marker)  # the pages never read a half-written file
