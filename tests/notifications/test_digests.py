"""Daily digests and e-mail settings: once a day each person gets what waits for their decision
(overdue first) and where their own requests stand; anyone may turn any kind of e-mail off,
the digest included, on their e-mail settings page (audited)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from approvals.models import StepState
from audit.models import AuditEvent
from jobs.models import Job
from notifications import digests, preferences
from notifications.models import DIGEST, SEND_DIGEST, Digest
from tests import factories


@pytest.fixture
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SIGNOFF_DIGEST_HOUR = 8
    settings.TIME_ZONE = "UTC"


def at(hour: int):
    return timezone.now().replace(hour=hour, minute=5, second=0, microsecond=0)


def test_each_person_gets_one_digest_a_day_from_the_hour_on(people, locmem):
    assert digests.digests_due(at(7)) == []
    created = digests.digests_due(at(9))
    everyone = {p.pk for p in vars(people).values() if hasattr(p, "email") and p.email}
    assert {d.user_id for d in Digest.objects.filter(pk__in=created)} == everyone
    assert Job.objects.filter(kind=SEND_DIGEST, target_id__in=created).count() == len(created)
    assert digests.digests_due(at(10)) == []  # once a day
    assert Digest.objects.filter(day=at(9).date()).count() == len(everyone)


def test_nobody_who_muted_the_digest_or_has_no_address_gets_one(people, locmem):
    preferences.email_kinds_set(user=people.mona, muted={DIGEST})
    people.mike.email = ""
    people.mike.save(update_fields=["email"])
    digests.digests_due(at(9))
    got = set(Digest.objects.values_list("user__username", flat=True))
    assert "mona" not in got and "mike" not in got and "quinn" in got


def test_the_digest_lists_what_waits_overdue_first_and_the_authors_requests(
    people, risk_model, submit, locmem, background
):
    first = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    second = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    StepState.objects.filter(request=second, name="manager_review").update(due_at=timezone.now() - timedelta(hours=1))
    mail.outbox.clear()
    for digest_id in digests.digests_due(at(9)):
        digests.digest_send(digest_id)
    by_user = {m.to[0]: m for m in mail.outbox}
    mona = by_user["mona@example.com"]
    assert mona.subject == "[Signoff] 2 requests wait for you, 1 overdue"
    assert mona.body.index(f"OVERDUE: #{second.pk}") < mona.body.index(f"#{first.pk} credit-risk")
    assert "<time" not in mona.body  # plain text is plain
    html = mona.alternatives[0][0]
    assert "Overdue" in html and f"/requests/{second.pk}/" in html and "/profile/email/" in html
    dana = by_user["dana@example.com"]
    assert "Your open requests" in dana.body and "Awaiting review at Manager review" in dana.body
    # people with nothing waiting and nothing open get nothing; their digest says why
    assert "nora@example.com" not in by_user
    assert Digest.objects.get(user=people.nora).status == Digest.Status.EMPTY
    assert Digest.objects.get(user=people.mona).status == Digest.Status.SENT
    # a digest is sent once
    mail.outbox.clear()
    digests.digest_send(Digest.objects.get(user=people.mona).pk)
    assert mail.outbox == []


def test_a_muted_kind_of_e_mail_is_not_sent_to_that_person(people, risk_model, submit, locmem):
    preferences.email_kinds_set(user=people.mona, muted={"review_requested"})
    mail.outbox.clear()
    submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    asked = sorted(m.to[0] for m in mail.outbox if "review" in m.subject.lower())
    assert asked == ["mike@example.com"]


def test_the_settings_page_saves_what_one_receives_and_audits_it(people, client):
    client.force_login(people.mona)
    page = client.get("/profile/email/").content.decode()
    kinds = preferences.KINDS
    assert page.count('type="checkbox"') == len(kinds) and page.count("checked") == len(kinds)
    received = [kind for kind in kinds if kind not in ("digest", "commented")]
    r = client.post("/profile/email/", {"receive": received})
    assert r.status_code == 302
    assert preferences.muted_kinds(people.mona) == {"digest", "commented"}
    event = AuditEvent.objects.get(verb="email.settings_changed")
    assert event.actor == people.mona and event.data["muted"] == ["commented", "digest"]
    page = client.get("/profile/email/").content.decode()
    assert page.count("checked") == len(kinds) - 2
    # saving the same again changes (and audits) nothing
    client.post("/profile/email/", {"receive": received})
    assert AuditEvent.objects.filter(verb="email.settings_changed").count() == 1


@pytest.mark.parametrize("value", ["nonsense", "digest%00", "%ED%A0%80", "a" * 1_000_000, "../digest", "%FF"])
def test_an_unknown_kind_is_refused_and_nothing_changes(people, client, value):
    """Including a lone surrogate (%ED%A0%80 is its UTF-8 form) and bytes that are no UTF-8."""
    client.force_login(people.mona)
    body = f"receive=digest&receive={value}"
    r = client.post("/profile/email/", body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400
    assert preferences.muted_kinds(people.mona) == set()
    assert not AuditEvent.objects.filter(verb="email.settings_changed").exists()


def test_the_settings_page_needs_a_login(client):
    assert client.get("/profile/email/").status_code == 302
