"""E-mail about requests: one row per event, one delivery row per recipient."""

from django.conf import settings
from django.db import models

from approvals.models import Comment, Decision, EmergencyRelease, PromotionRequest, StepState, Waiver
from approvals.signals import RequestEvent

SEND_NOTIFICATION = "send_notification"  # the job kind that delivers one notification
SEND_DIGEST = "send_digest"  # the job kind that sends one person's daily digest
DIGEST = "digest"  # the kind of e-mail a daily digest is, beside the events'


class Notification(models.Model):
    """One e-mail to send about a request, written with the change and sent by the worker after commit."""

    Event = RequestEvent

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
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    waiver = models.ForeignKey(Waiver, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    emergency = models.ForeignKey(EmergencyRelease, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    recipients = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "approvals_notification"  # created by the approvals app before notifications had its own
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
        db_table = "approvals_notificationdelivery"
        constraints = [models.UniqueConstraint(fields=["notification", "email"], name="one_delivery_per_address")]

    def __str__(self):
        return f"{self.notification} to {self.email}: {self.get_status_display()}"


class MutedKind(models.Model):
    """A kind of e-mail someone asked not to receive (their e-mail settings): an event of
    ``RequestEvent``, or ``DIGEST``. What they miss still shows in the queue and, unless they
    muted it too, in their daily digest."""

    KINDS = [*RequestEvent.choices, (DIGEST, "Daily digest")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=KINDS)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "user"], name="one_muted_row_per_kind")]

    def __str__(self):
        return f"{self.user} does not receive {self.get_kind_display()}"


class Digest(models.Model):
    """One person's daily digest: what waits for them and where their own requests stand. Written
    by the sweep once their day's digest is due (one per person and day), sent once by a job;
    one with nothing to say is not sent."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        EMPTY = "empty", "Nothing to say"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="one_digest_per_person_and_day")]
        indexes = [models.Index(fields=["day", "user"], name="digest_day_idx")]

    def __str__(self):
        return f"Digest for {self.user} on {self.day}: {self.get_status_display()}"
