"""Write the audit chain's head to a signed file outside the database (run it from cron, e.g. hourly).

``verify_audit_log`` then finds the removal of events newer than the last verified ones, and
a truncation, which the chain alone cannot show. With ``SIGNOFF_AUDIT_CHECKPOINT_EMAILS`` set,
the checkpoint is also e-mailed to the auditors, a copy no database user can reach.
"""

from django.conf import settings
from django.core.mail import send_mail
from django.core.management.base import BaseCommand

from audit.services import checkpoint_write


class Command(BaseCommand):
    help = "Write a signed checkpoint of the audit chain's head (and e-mail it to the auditors)."

    def add_arguments(self, parser):
        parser.add_argument("--directory", help="Folder for checkpoints (default SIGNOFF_AUDIT_CHECKPOINT_DIR).")

    def handle(self, *args, directory=None, **options):
        written = checkpoint_write(directory)
        if written is None:
            self.stdout.write("The audit log is empty; nothing to checkpoint.")
            return
        checkpoint, path = written
        if settings.SIGNOFF_AUDIT_CHECKPOINT_EMAILS:
            send_mail(
                subject=f"[Signoff] Audit checkpoint at event #{checkpoint.event_id}",
                message=path.read_text(),
                from_email=None,
                recipient_list=settings.SIGNOFF_AUDIT_CHECKPOINT_EMAILS,
            )
        self.stdout.write(f"Checkpoint at event #{checkpoint.event_id} ({checkpoint.count} events) written to {path}.")
