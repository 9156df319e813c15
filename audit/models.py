"""The append-only audit log: one event per change, chained by keyed digests."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from registry.models import RegisteredModel


class AuditEvent(models.Model):
    """An append-only record of one change: who, what, from → to, why, when.

    Rows are never updated or deleted: ``save`` refuses an update and ``delete`` refuses,
    and on PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE from any client. Each event
    also carries a keyed ``digest`` of its content and of the previous digest in its chain
    (``audit.services``), so an edit or deletion made around those guards breaks the chain
    and ``manage.py verify_audit_log`` names the first broken event.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for the system (a worker).",
    )
    verb = models.CharField(max_length=50, db_index=True)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=50)
    object_repr = models.CharField(max_length=200)
    model = models.ForeignKey(RegisteredModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # A lazy reference, not an import: the audit log knows requests only as rows it points to.
    request = models.ForeignKey(
        "approvals.PromotionRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    from_state = models.CharField(max_length=50, blank=True)
    to_state = models.CharField(max_length=50, blank=True)
    comment = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Each model's events form a chain of their own (0: events about no model, e.g. tokens), so
    # transitions of different models append in parallel; verify_audit_log checks every chain.
    chain = models.PositiveBigIntegerField(default=0, editable=False)
    previous_digest = models.CharField(max_length=64, blank=True, editable=False)
    digest = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        db_table = "approvals_auditevent"  # created by the approvals app; PostgreSQL's guards name it
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["model", "-created_at"], name="audit_model_idx"),
            models.Index(fields=["actor", "-created_at"], name="audit_actor_idx"),
            models.Index(fields=["request", "created_at"], name="audit_request_idx"),
            models.Index(fields=["chain", "-id"], name="audit_chain_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor or 'system'} {self.verb} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")
