"""Webhooks: endpoints an administrator configures, and one delivery row per event sent to one."""

from django.conf import settings
from django.db import models

SEND_WEBHOOK = "send_webhook"  # the job kind that delivers one webhook

# The events, named like MLflow's webhook events (what a receiver subscribes to).
EVENTS = [
    ("model_version.submitted", "A version was submitted"),
    ("model_version.checks_failed", "Its automated checks failed"),
    ("model_version.approved", "A step approved it"),
    ("model_version.changes_requested", "A reviewer requested changes"),
    ("model_version.rejected", "A reviewer rejected it"),
    ("model_version.deployed", "It was deployed"),
    ("model_version.rolled_back", "It was rolled back"),
    ("model.production_drift", "An MLflow alias Signoff owns was moved outside Signoff"),
]


class WebhookEndpoint(models.Model):
    """A URL told about the events it subscribes to, each body signed with its secret (Standard
    Webhooks 1.0). The secret is shown once, when the endpoint is created."""

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event names it receives.")
    secret = models.CharField(max_length=100, editable=False)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url"]

    def __str__(self):
        return self.url


class WebhookDelivery(models.Model):
    """One event sent to one endpoint: its body, every attempt's outcome and the last response."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50, choices=EVENTS)
    message_id = models.CharField(max_length=50, unique=True, help_text="webhook-id: the same on every attempt.")
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, help_text="The first 1,000 characters of the last response.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint_idx")]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event} to {self.endpoint}: {self.get_status_display()}"
