"""Hand background work that never finished to the workers again, now.

Celery beat runs the same sweep every 10 seconds (``jobs.runner.jobs_sweep``), so nobody has
to run this; it remains as a manual tool, e.g. right after a broker outage.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand

from jobs.runner import jobs_sweep

HANDED = ("handed_over", "expired_leases")


class Command(BaseCommand):
    help = "Re-queue pending jobs, jobs whose worker died, and conclude finished checks steps."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=0, help="Seconds a pending job has been due.")

    def handle(self, *args, older_than, **options):
        swept = jobs_sweep(handover_after=timedelta(seconds=older_than))
        others = "".join(f"; {kind}: {count} taken up" for kind, count in swept.items() if kind not in HANDED)
        self.stdout.write(
            f"Re-queued {swept['handed_over']} pending jobs and {swept['expired_leases']} jobs whose worker died"
            f"{others}."
        )
