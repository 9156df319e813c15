"""Promotion requests and everything recorded about them.

A ``PromotionRequest`` carries one model version through the steps of a workflow. Each step
of each request is a ``StepState`` row; automated checks are ``CheckRun`` rows executed by the
worker; human decisions are ``Decision`` rows; every change is an ``AuditEvent``; every e-mail
is a ``Notification`` row sent by the worker. Only ``approvals.services`` changes statuses.
"""

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.urls import reverse
from django.utils import timezone

from registry.models import ModelVersion, RegisteredModel


class PromotionRequest(models.Model):
    """A request to take ``version`` through the workflow towards production."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        AWAITING_REVIEW = "awaiting_review", "Awaiting review"
        CHECKS_FAILED = "checks_failed", "Checks failed"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        COMPLETED = "completed", "Deployed"
        ROLLED_BACK = "rolled_back", "Rolled back"

    OPEN_STATUSES = (Status.IN_PROGRESS, Status.AWAITING_REVIEW)

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="promotion_requests")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="promotion_requests")
    workflow_name = models.CharField(max_length=100)
    workflow_source = models.TextField(help_text="The YAML definition as it was when the request was submitted.")
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.IN_PROGRESS)
    current_step = models.ForeignKey("StepState", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    dataset = models.ForeignKey(
        "EvaluationDataset", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The evidence the checks use, fixed at submission: the latest dataset no author registered.",
    )  # fmt: skip
    resubmission_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The request that came back to the author and that this one answers with a fixed version.",
    )  # fmt: skip

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["version"],
                condition=models.Q(status__in=["in_progress", "awaiting_review"]),
                name="one_open_request_per_version",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-submitted_at"], name="request_status_idx"),
            models.Index(fields=["submitted_by", "-submitted_at"], name="request_author_idx"),
            models.Index(fields=["model", "-submitted_at"], name="request_model_idx"),
            models.Index(fields=["-updated_at"], name="request_updated_idx"),
            models.Index(fields=["-submitted_at", "-id"], name="request_submitted_idx"),
            # The "waiting for me" queue walks the open requests newest first and stops at a page.
            models.Index(
                fields=["-submitted_at", "-id"],
                condition=models.Q(status="awaiting_review"),
                name="request_awaiting_idx",
            ),
        ]

    def __str__(self):
        return f"Request #{self.pk}: {self.version}"

    def get_absolute_url(self):
        return reverse("request-detail", kwargs={"pk": self.pk})

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def age_days(self) -> int:
        """Whole days since submission; the queue flags open requests waiting two days or more."""
        return (timezone.now() - self.submitted_at).days


class RequestAuthor(models.Model):
    """Someone who authored the work a request carries, fixed when it is submitted: its submitter,
    the author of its version, of every version that version was derived from, and of every
    version with the same artifact (SHA-256). None of them decides any step of the request:
    four-eyes binds to the work, not to one row."""

    class Reason(models.TextChoices):
        SUBMITTED = "submitted", "submitted the request"
        REGISTERED = "registered", "registered the version"
        EARLIER_VERSION = "earlier_version", "registered a version it was derived from"
        SAME_ARTIFACT = "same_artifact", "registered a version with the same artifact"

    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="authors")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "user"], name="one_author_row_per_user")]
        indexes = [models.Index(fields=["user", "request"], name="request_author_user_idx")]


class StepState(models.Model):
    """One step of one request: its configuration (copied from the definition) and its outcome."""

    class Kind(models.TextChoices):
        CHECKS = "checks", "Automated checks"
        APPROVAL = "approval", "Approval"
        PROMOTION = "promotion", "Promotion"
        DEPLOYMENT = "deployment", "Deployment"

    class Status(models.TextChoices):
        PENDING = "pending", "Not started"
        WAITING = "waiting", "Waiting for a decision"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        APPROVED = "approved", "Approved"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"

    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    approver_groups = models.ManyToManyField(Group, blank=True, related_name="+")
    approver_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    required_approvals = models.PositiveSmallIntegerField(default=1)
    # A deployment that failed waits for its IT engineer again: a new round of decisions.
    round = models.PositiveSmallIntegerField(default=1)
    note = models.TextField(blank=True, help_text="Why the step waits again, e.g. the last deployment's error.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "position"]
        constraints = [models.UniqueConstraint(fields=["request", "position"], name="step_position_unique_per_request")]

    def __str__(self):
        return f"{self.title} ({self.get_status_display()})"

    @property
    def is_human(self) -> bool:
        return self.kind in (self.Kind.APPROVAL, self.Kind.DEPLOYMENT)


class CheckRun(models.Model):
    """One automated check of a request, executed by a worker (pending → running → passed / failed / error)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        ERROR = "error", "Error"

    FINISHED_STATUSES = (Status.PASSED, Status.FAILED, Status.ERROR)

    step = models.ForeignKey(StepState, on_delete=models.CASCADE, related_name="check_runs")
    position = models.PositiveSmallIntegerField()
    check_type = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    summary = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["step", "position"]
        constraints = [models.UniqueConstraint(fields=["step", "position"], name="check_position_unique_per_step")]

    def __str__(self):
        return f"{self.title}: {self.get_status_display()}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class Decision(models.Model):
    """A reviewer's decision on a human step, with their reason."""

    class Verdict(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"
        REQUEST_CHANGES = "request_changes", "Request changes"

    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="decisions")
    step = models.ForeignKey(StepState, on_delete=models.CASCADE, related_name="decisions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    round = models.PositiveSmallIntegerField(default=1, help_text="The step's round this decision was taken in.")
    evidence = models.JSONField(
        default=dict, blank=True, help_text="The evidence summary the reviewer was shown (comparison.summary)."
    )
    evidence_digest = models.CharField(max_length=64, blank=True, help_text="SHA-256 of ``evidence``, canonical JSON.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["step", "actor", "round"], name="one_decision_per_reviewer_per_round")
        ]
        indexes = [
            models.Index(fields=["-created_at"], name="decision_created_idx"),
            models.Index(fields=["request", "actor"], name="decision_request_actor_idx"),
        ]

    def __str__(self):
        return f"{self.actor} {self.get_verdict_display().lower()}d {self.step.title}"


class AuditEvent(models.Model):
    """An append-only record of one change: who, what, from → to, why, when.

    Rows are never updated or deleted: ``save`` refuses an update and ``delete`` refuses,
    and on PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE from any client. Each event
    also carries a keyed ``digest`` of its content and of the previous digest in its chain
    (``approvals.audit``), so an edit or deletion made around those guards breaks the chain
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
    request = models.ForeignKey(
        PromotionRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
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


class Notification(models.Model):
    """One e-mail to send about a request, written with the change and sent by the worker after commit."""

    class Event(models.TextChoices):
        REVIEW_REQUESTED = "review_requested", "Review requested"
        DECISION = "decision", "Decision made"
        CHECKS_FAILED = "checks_failed", "Checks failed"
        DEPLOYED = "deployed", "Deployed"
        ROLLED_BACK = "rolled_back", "Rolled back"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    event = models.CharField(max_length=30, choices=Event.choices)
    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="notifications")
    step = models.ForeignKey(StepState, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    recipients = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_event_display()} for {self.request}"


class NotificationDelivery(models.Model):
    """One recipient of one notification: sent at most once, retried alone when refused."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notification", "email"], name="one_delivery_per_address")]

    def __str__(self):
        return f"{self.notification} to {self.email}: {self.get_status_display()}"


class Job(models.Model):
    """One unit of background work (netbox's jobs): a check to run, a checks step to conclude,
    a promotion or deployment to carry out, an e-mail to deliver.

    A worker claims a job with a conditional update (pending and due, or running with an expired
    lease), so two deliveries of one message never run it twice at once, and a job whose worker
    died is taken up again once its lease expires. ``approvals.jobs`` is the only runner.
    """

    class Kind(models.TextChoices):
        RUN_CHECK = "run_check", "Run a check"
        CONCLUDE_CHECKS = "conclude_checks", "Conclude a checks step"
        EXECUTE_STEP = "execute_step", "Carry out a promotion or deployment"
        SEND_NOTIFICATION = "send_notification", "Deliver an e-mail"
        PROFILE_DATASET = "profile_dataset", "Read an uploaded dataset"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    target_id = models.PositiveBigIntegerField(help_text="The check run, step, notification or dataset worked on.")
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
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "target_id"], name="one_job_per_unit_of_work")]
        indexes = [
            models.Index(fields=["status", "run_after"], name="job_due_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="job_lease_idx"),
            models.Index(fields=["kind", "share", "status"], name="job_share_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.target_id}: {self.get_status_display()}"


def dataset_upload_to(instance: "EvaluationDataset", filename: str) -> str:
    return f"datasets/{instance.model.name}/{uuid.uuid4().hex}-{filename}"


class EvaluationDataset(models.Model):
    """A hold-out dataset of a model, on which checks re-measure its versions in the sandbox.

    Uploaded, then read by the worker in the sandbox (``profiling``) and either ``ready`` with its
    rows and columns, or ``refused`` saying why (its bytes deleted, its name free again). Only a
    ready dataset is evidence. Immutable once read: no way to change or delete one through
    Signoff (a new name instead)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        PARQUET = "parquet", "Parquet"

    class Status(models.TextChoices):
        PROFILING = "profiling", "Being read"
        READY = "ready", "Ready"
        REFUSED = "refused", "Refused"

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="datasets")
    name = models.SlugField(max_length=100)
    description = models.TextField(blank=True)
    file = models.FileField(upload_to=dataset_upload_to, max_length=300)
    format = models.CharField(max_length=10, choices=Format.choices)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    row_count = models.PositiveIntegerField(null=True, blank=True)
    columns = models.JSONField(default=list, help_text="[{name, dtype}] as read from the file.")
    target_column = models.CharField(max_length=200)
    sensitive_columns = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROFILING)
    problem = models.TextField(blank=True, help_text="Why the file was refused.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    profiled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A refused upload leaves its record but frees its name for the corrected file.
            models.UniqueConstraint(
                fields=["model", "name"], condition=~models.Q(status="refused"), name="dataset_name_unique_per_model"
            )
        ]
        indexes = [
            models.Index(fields=["model", "status", "-created_at"], name="dataset_model_status_idx"),
            models.Index(fields=["created_by", "status"], name="dataset_uploader_status_idx"),
        ]

    def __str__(self):
        return f"{self.model.name} / {self.name}"


class Measurement(models.Model):
    """What Signoff measured of a version on one of its model's evaluation datasets, in the
    sandbox: the metrics (apart from the ones the author reported), the confusion matrix, the
    ROC and PR curve points and the calibration bins. Written once per version and dataset;
    the checks that need the figures share it."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="measurements")
    dataset = models.ForeignKey(EvaluationDataset, on_delete=models.PROTECT, related_name="measurements")
    task = models.CharField(max_length=20)  # classification or regression
    metrics = models.JSONField(default=dict)
    details = models.JSONField(default=dict, help_text="confusion_matrix, roc_curve, pr_curve, calibration, rows")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "dataset"], name="one_measurement_per_version_dataset")
        ]

    def __str__(self):
        return f"{self.version} on {self.dataset.name}"
