"""Webhooks: a local receiver verifies each body's Standard Webhooks signature; 500 twice then
200 is one delivery row after three attempts; 410 is permanent; loopback, link-local and private
targets are refused unless allowed; bad endpoint input is refused and writes nothing."""

import base64
import hashlib
import hmac
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from audit.models import AuditEvent
from jobs.models import Job
from tests import factories
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint


@pytest.fixture
def admin(people):
    return factories.make_user("ada", is_superuser=True, is_staff=True)


def verified(secret, headers, body) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return headers["webhook-signature"] == f"v1,{expected}"


def test_events_are_signed_delivered_and_a_5xx_is_retried_into_one_delivery(
    people, risk_model, submit, background, receiver, admin
):
    server = receiver(500, 500, 200)
    endpoint, secret = services.webhook_endpoint_create(
        url=server.url, events=["model_version.submitted", "model_version.approved"], actor=admin
    )
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    delivery = WebhookDelivery.objects.get(event="model_version.submitted")
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)
    assert len(server.received) == 3 and delivery.response_excerpt == "thanks"
    headers, body = server.received[-1]
    assert verified(secret, headers, body)
    payload = json.loads(body)
    assert payload["event"] == "model_version.submitted" and payload["id"] == headers["webhook-id"]
    assert payload["data"]["model"] == "credit-risk" and payload["data"]["request"] == request.pk
    assert {h["webhook-id"] for h, _ in server.received} == {delivery.message_id}  # the same id each attempt

    with background():
        from approvals import services as approvals_services

        approvals_services.step_decide(request=request, actor=people.mona, verdict="approve")
    approved = WebhookDelivery.objects.get(event="model_version.approved")
    assert approved.status == "delivered" and json.loads(server.received[-1][1])["data"]["step"] == "manager_review"
    assert WebhookDelivery.objects.count() == 2  # nothing for events the endpoint did not choose


def test_a_4xx_is_permanent_and_can_be_sent_again_from_the_admin(
    people, risk_model, submit, receiver, admin, client, background
):
    server = receiver(410)
    services.webhook_endpoint_create(url=server.url, events=["model_version.submitted"], actor=admin)
    submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, 410)
    assert Job.objects.get(kind="send_webhook").status == "failed"
    server.answers = [200]
    client.force_login(admin)
    with background():
        response = client.post(
            "/admin/webhooks/webhookdelivery/", {"action": "send_again", "_selected_action": [delivery.pk]}
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert AuditEvent.objects.filter(verb="webhook.replayed").count() == 1


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.8/", "http://[::1]/"]
)
def test_private_addresses_written_as_such_are_refused_when_configured(admin, url):
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError, match="link-local"):
        services.webhook_endpoint_create(url=url, events=["model_version.submitted"], actor=admin)
    assert not WebhookEndpoint.objects.exists() and AuditEvent.objects.count() == events


@pytest.mark.parametrize("url", ["http://localhost/"])
def test_names_resolving_to_loopback_fail_at_delivery(people, risk_model, submit, admin, url):
    services.webhook_endpoint_create(url=url, events=["model_version.submitted"], actor=admin)
    submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "private, loopback or link-local" in delivery.error


@pytest.mark.parametrize(
    "url, events",
    [
        ("file:///etc/passwd", ["model_version.submitted"]),
        ("gopher://example.com/", ["model_version.submitted"]),
        ("http://user:pw@example.com/", ["model_version.submitted"]),
        ("http://example.com/\x00", ["model_version.submitted"]),
        ("http://example.com/\ud800", ["model_version.submitted"]),
        ("http://example.com/" + "a" * 1_000_000, ["model_version.submitted"]),
        ("http://example.com:99999/", ["model_version.submitted"]),
        ("https://example.com/", ["model_version.everything"]),
        ("https://example.com/", []),
    ],
)
def test_bad_endpoints_are_refused_and_write_nothing(admin, url, events):
    with pytest.raises(ValidationError):
        services.webhook_endpoint_create(url=url, events=events, actor=admin)
    assert not WebhookEndpoint.objects.exists() and not AuditEvent.objects.filter(verb="webhook.created").exists()


def test_only_administrators_configure_webhooks(people):
    with pytest.raises(PermissionDenied):
        services.webhook_endpoint_create(
            url="https://example.com/", events=["model_version.deployed"], actor=people.mona
        )


def test_the_admin_shows_the_secret_once_and_audits_the_endpoint(admin, client):
    client.force_login(admin)
    response = client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"url": "https://hooks.example.com/signoff", "description": "CD", "events": ["model_version.deployed"],
         "active": "on"},
        follow=True,
    )  # fmt: skip
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode() and endpoint.secret.startswith("whsec_")
    assert AuditEvent.objects.filter(verb="webhook.created").count() == 1
    page = client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in page
