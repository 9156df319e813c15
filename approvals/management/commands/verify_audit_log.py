"""Check the audit log's digest chain; exit 1 naming the first event that was changed or removed."""

from django.core.management.base import BaseCommand, CommandError

from approvals.audit import audit_chain_first_break
from approvals.models import AuditEvent


class Command(BaseCommand):
    help = "Verify that no audit event was edited or deleted (SHA-256 chain)."

    def handle(self, *args, **options):
        broken = audit_chain_first_break()
        if broken is not None:
            raise CommandError(
                f"The audit log was tampered with at or just before event #{broken.pk} "
                f"({broken.created_at:%Y-%m-%d %H:%M:%S} {broken.verb} {broken.object_repr})."
            )
        self.stdout.write(self.style.SUCCESS(f"The audit log is intact ({AuditEvent.objects.count()} events)."))
