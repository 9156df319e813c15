"""Check the audit log's keyed digest chain against the checkpoints written outside the database;
exit 1 naming the first event edited, removed or rewritten."""

from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEvent
from audit.services import audit_log_problems


class Command(BaseCommand):
    help = "Verify that no audit event was edited, deleted or rewritten (HMAC chain and checkpoints)."

    def add_arguments(self, parser):
        parser.add_argument("--checkpoints", help="Folder of checkpoints (default SIGNOFF_AUDIT_CHECKPOINT_DIR).")

    def handle(self, *args, checkpoints=None, **options):
        problems = audit_log_problems(checkpoints)
        if problems:
            raise CommandError("The audit log was tampered with:\n- " + "\n- ".join(problems))
        self.stdout.write(self.style.SUCCESS(f"The audit log is intact ({AuditEvent.objects.count()} events)."))
