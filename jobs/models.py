"""Background work as rows (netbox's jobs): written with the change that needs it, run by a worker."""

from django.db import models
from django.utils import timezone


class Job(models.Model):
    """One unit of background work (netbox's jobs): a ``kind`` that an app registered with the
    runner (``jobs.runner.register``) and the id of its ``target`` (a check run, a step, an
    e-mail, a dataset: the kind says which).

    A worker claims a job with a conditional update (pending and due, or running with an expired
    lease), so two deliveries of one message never run it twice at once, and a job whose worker
    died is taken up again once its lease expires. ``jobs.runner`` is the only runner.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=30, help_text="What to do, as registered by an app (e.g. run_check).")
    target_id = models.PositiveBigIntegerField(help_text="The row the kind works on (a check run, a step, …).")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    run_after = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    log = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    share = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Whose share of the workers this job takes (a check: its model's team)."
    )

    class Meta:
        db_table = "approvals_job"  # created by the approvals app before jobs had an app of its own
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "target_id"], name="one_job_per_unit_of_work")]
        indexes = [
            models.Index(fields=["status", "run_after"], name="job_due_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="job_lease_idx"),
            models.Index(fields=["kind", "share", "status"], name="job_share_idx"),
        ]

    def __str__(self):
        return f"{self.kind} #{self.target_id}: {self.get_status_display()}"
