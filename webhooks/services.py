"""Webhooks (services): an administrator adds, changes or stops an endpoint (audited, the
secret shown once); each event of the engine an active endpoint subscribes to becomes a delivery
row and a job in the change's transaction; the job POSTs the signed body through the SSRF guard:
2xx is delivered, 4xx permanent, 5xx and network errors are retried with the runner's backoff.
A delivery can be sent again from the admin."""

import base64
import json
import secrets
import socket
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from config import outbound as guard
from jobs.runner import TransientError, job_enqueue, jobs_enqueue_new
from webhooks.models import EVENTS, SEND_WEBHOOK, WebhookDelivery, WebhookEndpoint

EVENT_NAMES = {name for name, _label in EVENTS}
EXCERPT = 1000


def _may_configure(actor) -> None:
    if not (actor is not None and actor.is_active and actor.is_superuser):
        raise PermissionDenied("Only administrators configure webhooks.")


def _clean(url: str, events, description: str) -> tuple[str, list[str], str]:
    guard.check_url(url)
    if not isinstance(events, list | tuple) or not events:
        raise ValidationError({"events": "Choose at least one event."})
    unknown = sorted(str(event)[:50] for event in events if event not in EVENT_NAMES)
    if unknown:
        raise ValidationError({"events": f"There is no event called {unknown[0]!r}."})
    if not isinstance(description, str) or len(description) > 200 or "\x00" in description:
        raise ValidationError({"description": "At most 200 characters, no NUL."})
    return url, sorted(set(events)), description


def webhook_endpoint_create(*, url: str, events, actor, description: str = "") -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its secret (``whsec_`` + base64 of 32 random bytes), returned
    so it can be shown this once."""
    _may_configure(actor)
    url, events, description = _clean(url, events, description)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url, events=events, description=description, secret=secret, created_by=actor
        )
        audit_record(actor=actor, verb="webhook.created", obj=endpoint, data={"url": url, "events": events})
    return endpoint, secret


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, url: str, events, active: bool, actor, description=""):
    """Change where an endpoint points, what it receives, or stop it (its secret stays)."""
    _may_configure(actor)
    url, events, description = _clean(url, events, description)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        before = {"url": endpoint.url, "events": endpoint.events, "active": endpoint.active}
        endpoint.url, endpoint.events, endpoint.active, endpoint.description = url, events, bool(active), description
        endpoint.save(update_fields=["url", "events", "active", "description"])
        after = {"url": url, "events": events, "active": bool(active)}
        audit_record(actor=actor, verb="webhook.changed", obj=endpoint, data={"before": before, "after": after})
    return endpoint


def deliveries_record(*, event: str, data: dict) -> list[WebhookDelivery]:
    """One delivery (and its job) per active endpoint subscribed to ``event``, in the caller's transaction."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(active=True) if event in e.events]
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event=event,
            message_id=f"msg_{uuid.uuid4().hex}",
            payload={"event": event, "id": None, "timestamp": now.isoformat(), "data": data},
        )  # fmt: skip
        for endpoint in endpoints
    )
    for delivery in deliveries:  # the body's id is the delivery's message id
        delivery.payload["id"] = delivery.message_id
    WebhookDelivery.objects.bulk_update(deliveries, ["payload"])
    jobs_enqueue_new(SEND_WEBHOOK, [delivery.pk for delivery in deliveries])
    return deliveries


def webhook_send(delivery_id: int) -> None:
    """POST the delivery once; raises ``TransientError`` for an answer worth retrying."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.status != WebhookDelivery.Status.PENDING:
        return
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = int(timezone.now().timestamp())
    headers = guard.signed_headers(endpoint.secret, delivery.message_id, timestamp, body)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    try:
        status, answer = guard.post(endpoint.url, body, headers, settings.SIGNOFF_WEBHOOK_TIMEOUT_SECONDS)
    except ValidationError as refused:  # the SSRF guard: permanent
        _record(delivery, WebhookDelivery.Status.FAILED, error=" ".join(refused.messages))
        raise PermanentDeliveryError(" ".join(refused.messages)) from None
    except (OSError, socket.timeout) as error:
        _record(delivery, WebhookDelivery.Status.PENDING, error=f"{type(error).__name__}: {error}")
        raise TransientError(f"{endpoint.url} could not be reached: {error}") from error
    excerpt = answer.decode("utf-8", "replace")[:EXCERPT]
    kind = guard.answer_kind(status)
    if kind == "done":
        _record(delivery, WebhookDelivery.Status.DELIVERED, code=status, excerpt=excerpt, delivered=True)
    elif kind == "permanent":
        _record(delivery, WebhookDelivery.Status.FAILED, code=status, excerpt=excerpt, error=f"HTTP {status}")
        raise PermanentDeliveryError(f"{endpoint.url} answered {status}; not retried")
    else:
        _record(delivery, WebhookDelivery.Status.PENDING, code=status, excerpt=excerpt, error=f"HTTP {status}")
        raise TransientError(f"{endpoint.url} answered {status}")


class PermanentDeliveryError(Exception):
    """Not worth another try: the job fails for good (and the row says why)."""


def _record(delivery, outcome: str, *, code=None, excerpt="", error="", delivered=False) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=outcome, response_status=code, response_excerpt=excerpt, error=error[:2000],
        delivered_at=timezone.now() if delivered else None,
    )  # fmt: skip


def webhook_give_up(*, delivery_id: int, reason: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED, error=reason[:2000]
    )


def webhook_delivery_replay(*, delivery: WebhookDelivery, actor) -> WebhookDelivery:
    """Send a delivery again (same id and body, a fresh signature), e.g. after the receiver was fixed."""
    _may_configure(actor)
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.PENDING, error="")
        audit_record(actor=actor, verb="webhook.replayed", obj=delivery, data={"event": delivery.event})
        job_enqueue(SEND_WEBHOOK, delivery.pk, again=True)
    delivery.refresh_from_db()
    return delivery
