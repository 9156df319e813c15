"""Hand background work that never finished to the worker again.

Work is recorded as rows before it is queued, so if the broker was down when a change
committed, or a message was lost, the rows are still pending. Every task is idempotent, so
re-queueing work that is merely slow does no harm. Run it from cron every few minutes.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from approvals import tasks
from approvals.selectors import stalled_work


class Command(BaseCommand):
    help = "Re-queue check runs, promotion/deployment steps and e-mails that have not finished."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=300, help="Seconds of age before work counts as stalled.")

    def handle(self, *args, older_than, **options):
        work = stalled_work(older_than=timezone.now() - timedelta(seconds=older_than))
        for pk in work["check_runs"]:
            tasks.run_check.delay(pk)
        for pk in work["steps"]:
            tasks.execute_step.delay(pk)
        for pk in work["notifications"]:
            tasks.send_notification.delay(pk)
        self.stdout.write(
            f"Re-queued {len(work['check_runs'])} check runs, {len(work['steps'])} steps "
            f"and {len(work['notifications'])} e-mails."
        )
