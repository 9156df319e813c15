"""Promotion requests and everything recorded about them.

A ``PromotionRequest`` carries one model version through the steps of a workflow. Each step
of each request is a ``StepState`` row; automated checks are ``CheckRun`` rows executed by the
worker; human decisions are ``Decision`` rows; every change is an audit event (the ``audit`` app); every e-mail
is a row of the ``notifications`` app, written when the engine announces an event
(``approvals.signals``). Only ``approvals.services`` changes statuses.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.urls import reverse
from django.utils import timezone

from registry.models import ModelVersion, RegisteredModel


class JobKind(models.TextChoices):
    """This app's kinds of background work (``jobs.runner``), registered in ``apps.ready``."""

    RUN_CHECK = "run_check", "Run a check"
    CONCLUDE_CHECKS = "conclude_checks", "Conclude a checks step"
    EXECUTE_STEP = "execute_step", "Carry out a promotion or deployment"
    STEP_DEADLINE = "step_deadline", "Remind or escalate a step that is due"
    RUN_PREFLIGHT_CHECK = "run_preflight_check", "Run a check of a pre-flight"


class Workflow(models.Model):
    """A named workflow that models follow: its definition is its latest ``WorkflowRevision``.

    Exactly one workflow is the default (for models with no assignment of their own): at most one
    by a database constraint, at least one because the services only ever move the flag."""

    name = models.SlugField(max_length=100, unique=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_workflow"
            )
        ]

    def __str__(self):
        return self.name

    @property
    def latest(self) -> "WorkflowRevision | None":
        return self.revisions.order_by("-number").first()


class WorkflowRevision(models.Model):
    """One immutable text of a workflow: YAML as written, a digest of what it parses to, who saved
    it, when and why. A request pins the revision it runs; later revisions never change it."""

    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    source = models.TextField()
    digest = models.CharField(max_length=64, help_text="SHA-256 of the parsed definition, canonical JSON.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="one_revision_number_per_workflow")]

    def __str__(self):
        return f"{self.workflow.name} r{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Workflow revisions are immutable; save a new revision instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Workflow revisions are immutable.")


class WorkflowAssignment(models.Model):
    """The workflow ``model`` follows instead of the default."""

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="workflow_assignment")
    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="assignments")
    assigned_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.model.name} → {self.workflow.name}"


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
        WITHDRAWN = "withdrawn", "Withdrawn"

    OPEN_STATUSES = (Status.IN_PROGRESS, Status.AWAITING_REVIEW)

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="promotion_requests")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="promotion_requests")
    workflow_name = models.CharField(max_length=100)
    workflow_source = models.TextField(help_text="The YAML definition as it was when the request was submitted.")
    revision = models.ForeignKey(
        WorkflowRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="requests",
        help_text="The workflow revision this request runs, pinned at submission.",
    )  # fmt: skip
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.IN_PROGRESS)
    current_step = models.ForeignKey("StepState", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    dataset = models.ForeignKey(
        "evidence.EvaluationDataset", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
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
        return f"Request #{self.pk}: {self.model.name} v{self.version.number}"  # its version's model

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
        POLICY = "policy", "Policy"
        RETROSPECTIVE = "retrospective", "Retrospective review"

    HUMAN_KINDS = (Kind.APPROVAL, Kind.DEPLOYMENT, Kind.RETROSPECTIVE)

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
        SKIPPED = "skipped", "Skipped"
        NOT_MET = "not_met", "Condition not met"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATUSES = (Status.WAITING, Status.RUNNING)

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
    group = models.CharField(
        max_length=50, blank=True, help_text="The parallel group the step belongs to: its steps start together."
    )
    result = models.JSONField(
        default=dict, blank=True, help_text="What the engine recorded: a policy's verdict with the values it read."
    )
    allow_deciders_of = models.CharField(
        max_length=1000, blank=True,
        help_text="',a,b,': whoever decided these steps of the request may decide this one too.",
    )  # fmt: skip
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # "mona is reviewing": a reviewer's claim on a waiting step, shown to the others; it decides
    # nothing and lapses by itself (SIGNOFF_CLAIM_HOURS).
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Deadlines (``due:`` in the workflow; approvals.deadlines): set when the step starts waiting.
    due_at = models.DateTimeField(null=True, blank=True)
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "position"]
        constraints = [models.UniqueConstraint(fields=["request", "position"], name="step_position_unique_per_request")]
        # Who may decide what starts from the few steps that wait or run (approvals.permissions).
        indexes = [
            models.Index(
                fields=["status"], condition=models.Q(status__in=["waiting", "running"]), name="step_active_idx"
            ),
            # The sweeper's reminders and escalations still to send.
            models.Index(
                fields=["remind_at"], condition=models.Q(status="waiting", reminded_at=None), name="step_remind_idx"
            ),
            models.Index(
                fields=["due_at"], condition=models.Q(status="waiting", escalated_at=None), name="step_due_idx"
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.get_status_display()})"

    @property
    def is_human(self) -> bool:
        return self.kind in self.HUMAN_KINDS

    @property
    def claim_holder(self):
        """Who is reviewing the step now, by a claim that has not lapsed (None: nobody)."""
        if self.status != self.Status.WAITING or self.claimed_until is None or self.claimed_until <= timezone.now():
            return None
        return self.claimed_by

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.WAITING and self.due_at is not None and self.due_at <= timezone.now()


class CheckRun(models.Model):
    """One automated check of a request, executed by a worker (pending → running → passed / failed / error)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        ERROR = "error", "Error"

    FINISHED_STATUSES = (Status.PASSED, Status.FAILED, Status.ERROR)
    NOT_PASSED = (Status.FAILED, Status.ERROR)  # what a waiver can be asked for

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
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Whom the actor stood in for, by a delegation (out of office).",
    )  # fmt: skip
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

    @property
    def label(self) -> str:
        """The verdict as people say it: approving a deployment step is deploying."""
        if self.verdict == self.Verdict.APPROVE and self.step.kind == StepState.Kind.DEPLOYMENT:
            return "Deployed"
        return self.get_verdict_display()


class Thread(models.Model):
    """A conversation on a request: its first comment and the replies. An open thread travels with
    the work: a resubmission that answers the request shows it too (``requests``)."""

    started_on = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="+")
    requests = models.ManyToManyField(PromotionRequest, related_name="threads", help_text="The requests it shows on.")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"Thread #{self.pk} on request #{self.started_on_id}"

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


class Comment(models.Model):
    """One comment of a thread, in Markdown (rendered sanitised). Never deleted; an edit keeps the
    earlier text as a ``CommentEdit``."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="comments")
    request = models.ForeignKey(
        PromotionRequest, on_delete=models.CASCADE, related_name="+", help_text="The request it was written on."
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    mentioned = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["thread", "created_at"], name="comment_thread_idx")]

    def __str__(self):
        return f"Comment #{self.pk} by {self.author}"

    def get_absolute_url(self):
        return f"{self.request.get_absolute_url()}#comment-{self.pk}"


class CommentEdit(models.Model):
    """The text a comment had before one edit."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="edits")
    body = models.TextField()
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["replaced_at", "pk"]


class Waiver(models.Model):
    """The author's request that a failed check not stop the request, and the answer of someone
    the workflow names (``waivable_by`` on the checks step), never an author of the work. When
    every failed check of the step is waived, the request goes on from there."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        GRANTED = "granted", "Granted"
        REFUSED = "refused", "Refused"

    check_run = models.ForeignKey(CheckRun, on_delete=models.CASCADE, related_name="waivers")
    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="waivers")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["check_run"],
                condition=models.Q(status__in=["requested", "granted"]),
                name="one_live_waiver_per_check_run",
            )
        ]

    def __str__(self):
        return f"Waiver of {self.check_run.check_type} on request #{self.request_id}: {self.get_status_display()}"


class Delegation(models.Model):
    """Out of office: ``delegate`` decides for ``principal`` from ``starts_at`` until ``ends_at``
    (then it lapses by itself), optionally only on some models and only on steps of some roles.
    The delegate decides steps that name the principal personally and is told whenever the
    principal is asked; each such decision records "on behalf of". The delegate holds every
    role it covers and meets every separation-of-duties rule in their own right."""

    principal = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    delegate = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    roles = models.ManyToManyField(
        Group, blank=True, related_name="+", help_text="Only steps of these roles (none: all)."
    )
    registered_models = models.ManyToManyField(
        RegisteredModel, blank=True, related_name="+", help_text="Only these models (none: all)."
    )
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-pk"]
        indexes = [models.Index(fields=["delegate", "ends_at"], name="delegation_delegate_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="delegation_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~models.Q(principal=models.F("delegate")), name="delegation_not_to_oneself"
            ),
        ]

    def __str__(self):
        return f"{self.delegate} for {self.principal} until {self.ends_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.starts_at <= timezone.now() < self.ends_at

    @property
    def is_over(self) -> bool:
        return self.revoked_at is not None or self.ends_at <= timezone.now()


class EmergencyRelease(models.Model):
    """Break-glass: someone the workflow names (``break_glass.by``, default an IT engineer) asks,
    with a justification, to release the version past the human steps still waiting; a second
    person (``break_glass.second``, default a manager) agrees or refuses. Once released, those
    steps are skipped, the version is flagged "emergency release" everywhere, and a retrospective
    review step follows its deployment, due within ``break_glass.retrospective_due``."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for a second approval"
        RELEASED = "released", "Released"
        REFUSED = "refused", "Refused"

    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="emergencies")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    justification = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    retrospective = models.OneToOneField(
        StepState, null=True, blank=True, on_delete=models.SET_NULL, related_name="emergency"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["request"],
                condition=models.Q(status__in=["requested", "released"]),
                name="one_live_emergency_per_request",
            )
        ]
        indexes = [
            models.Index(fields=["requested_by"], name="emergency_requested_by_idx"),
            models.Index(fields=["decided_by"], name="emergency_decided_by_idx"),
        ]

    def __str__(self):
        return f"Emergency release of request #{self.request_id}: {self.get_status_display()}"


class Preflight(models.Model):
    """ "Check this version": the checks the version's workflow would run, as a dry run before
    anyone is asked (like CI on a draft pull request). No request, no decision; the evidence is
    chosen as a submission would choose it (the latest dataset no author of the work registered)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="preflights")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revision = models.ForeignKey(WorkflowRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    dataset = models.ForeignKey(
        "evidence.EvaluationDataset", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author_ids = models.JSONField(default=list, help_text="The authors of the work, whose datasets are no evidence.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["version", "-created_at"], name="preflight_version_idx")]

    def __str__(self):
        return f"Pre-flight of {self.version}: {self.get_status_display()}"


class PreflightCheck(models.Model):
    """One check of a pre-flight, run by the worker like a request's (``CheckRun``)."""

    preflight = models.ForeignKey(Preflight, on_delete=models.CASCADE, related_name="checks")
    position = models.PositiveSmallIntegerField()
    check_type = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=CheckRun.Status.choices, default=CheckRun.Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    summary = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["preflight", "position"]
        constraints = [
            models.UniqueConstraint(fields=["preflight", "position"], name="preflight_check_position_unique")
        ]

    def __str__(self):
        return f"{self.title}: {self.get_status_display()}"


class Attestation(models.Model):
    """The signed approval written when a deployment runs (``approvals.attestations``): an in-toto
    Statement in a DSSE envelope, one per deployment step and round. Never changed."""

    request = models.ForeignKey(PromotionRequest, on_delete=models.PROTECT, related_name="attestations")
    step = models.ForeignKey(StepState, on_delete=models.PROTECT, related_name="+")
    round = models.PositiveSmallIntegerField()
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="attestations")
    envelope = models.JSONField(help_text="The DSSE envelope: payloadType, payload (base64), signatures.")
    key_id = models.CharField(max_length=64, help_text="SHA-256 of the signing key's public bytes.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["step", "round"], name="one_attestation_per_deployment_round")]
        indexes = [models.Index(fields=["version", "-created_at"], name="attestation_version_idx")]

    def __str__(self):
        return f"Signed approval of {self.version}"
