"""E-mail about requests: one row per event, one delivery row per recipient."""

from django.conf import settings
from django.db import models

from approvals.models import Comment, Decision, EmergencyRelease, PromotionRequest, StepState, Waiver
from approvals.signals import RequestEvent

SEND_NOTIFICATION = "send_notification"  # the job kind that delivers one notification


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
