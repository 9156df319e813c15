"""Create the demo accounts, models and requests (idempotent)."""

from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from config.celery import app as celery_app
from demo.seed import ACCOUNTS, DEMO_PASSWORD, seed_demo
from evidence.sandbox import disable_zygote, enable_zygote


class Command(BaseCommand):
    help = "Seed the demo: four role accounts and an admin, three trained models, requests in several states."

    def handle(self, *args, **options):
        # Run the background steps inline so every demo request settles before the server
        # starts, and keep the seeding's e-mails out of the demo's mailbox.
        # The checks' sandboxed tasks fork from a fork server, as in a worker.
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        enable_zygote()
        try:
            with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
                created = seed_demo(log=self.stdout.write)
        finally:
            celery_app.conf.task_always_eager = eager
            disable_zygote()
        if not created:
            self.stdout.write("The demo data is already there; nothing to do.")
            return
        names = ", ".join(username for username, *_ in ACCOUNTS)
        self.stdout.write(self.style.SUCCESS(f"Demo seeded. Accounts: {names} (password {DEMO_PASSWORD})."))
