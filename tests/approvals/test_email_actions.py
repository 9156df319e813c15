"""Decisions from an e-mail, safe against link scanners: the e-mail asking for a review says where
the request stands and carries each recipient's signed links; opening one decides nothing; only
the confirm page's button (POST, CSRF, the token) decides, once, for that recipient."""

import re

import pytest
from django.core import mail
from django.test import Client

from approvals import email_actions
from approvals.models import Decision
from tests import factories


@pytest.fixture
def asked(people, risk_model, background, settings):
    """mona's e-mail asking for the manager review, and the request."""
    from approvals import services

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
    message = next(m for m in mail.outbox if m.to == ["mona@example.com"] and "waits for" in m.subject)
    return request, message


def links(message) -> dict[str, str]:
    found = dict(re.findall(r"  (Approve|Request changes): (http\S+)", message.body))
    return {label: url.removeprefix("http://testserver") for label, url in found.items()}


def test_the_invitation_says_where_it_stands_and_carries_the_recipients_links(asked):
    _request, message = asked
    assert "Where it stands: 3 of 3 checks passed · 0 of 1 approval for Manager review" in message.body
    assert "accuracy: 0.9100 (reported)" in message.body  # nothing in production: no deltas
    assert set(links(message)) == {"Approve", "Request changes"}
    assert "Or start from here" in message.alternatives[0][0]


def test_opening_a_link_decides_nothing_and_the_button_does(asked, people):
    request, message = asked
    approve = links(message)["Approve"]
    scanner = Client()
    assert scanner.get(approve).status_code == 302  # to the login page: a scanner has no session
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people.mona)
    page = browser.get(approve)
    assert page.status_code == 200 and "nothing is decided until you press the button" in page.content.decode()
    assert not Decision.objects.exists()

    token = approve.split("t=", 1)[1]
    digest = re.search(r'name="evidence_digest" value="([0-9a-f]+)"', page.content.decode())[1]
    assert browser.post(f"/requests/{request.pk}/act/", {"t": token, "verdict": "approve"}).status_code == 403  # CSRF
    assert not Decision.objects.exists()
    csrf = browser.cookies["csrftoken"].value
    r = browser.post(f"/requests/{request.pk}/act/", {"t": token, "verdict": "approve", "evidence_digest": digest,
                                                      "csrfmiddlewaretoken": csrf})  # fmt: skip
    assert r.status_code == 302, re.findall(
        r'class="(?:message message-error|field-error)">([^<]*)', r.content.decode()
    )
    decision = Decision.objects.get()
    assert (decision.actor, decision.verdict) == (people.mona, "approve")
    again = browser.post(f"/requests/{request.pk}/act/", {"t": token, "csrfmiddlewaretoken": csrf})
    assert again.status_code == 302 and Decision.objects.count() == 1  # once


def test_a_link_works_only_for_its_recipient_and_its_verdict(asked, people, client):
    request, message = asked
    approve, changes = links(message)["Approve"], links(message)["Request changes"]
    client.force_login(people.mike)
    assert client.get(approve).status_code == 403  # mona's link
    client.force_login(people.mona)
    token = changes.split("t=", 1)[1]
    r = client.post(f"/requests/{request.pk}/act/", {"t": token, "verdict": "approve", "comment": ""})
    assert r.status_code == 400 and "Say why" in r.content.decode()  # the token's verdict, not the form's
    assert not Decision.objects.exists()
    r = client.post(f"/requests/{request.pk}/act/", {"t": token[:-3] + "abc", "verdict": "approve"})
    assert r.status_code == 302 and not Decision.objects.exists()  # tampered: back to the request, with why


def test_an_expired_or_foreign_token_is_refused(asked, people, settings, growth_model):
    request, message = asked
    token = links(message)["Approve"].split("t=", 1)[1]
    settings.SIGNOFF_EMAIL_ACTION_HOURS = 0
    with pytest.raises(Exception, match="expired"):
        email_actions.action_read(token, user=people.mona, request=request)
    settings.SIGNOFF_EMAIL_ACTION_HOURS = 72
    other = factories.make_version(model=growth_model, by=people.gina)
    from approvals import services

    elsewhere = services.promotion_request_submit(version=other, actor=people.gina)
    with pytest.raises(Exception, match="not valid for this request"):
        email_actions.action_read(token, user=people.mona, request=elsewhere)
