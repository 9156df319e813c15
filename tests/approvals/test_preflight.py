"""Pre-flight, "Check this version": the author runs the workflow's checks on a version before
asking anyone (a dry run: no request, no decision, nobody e-mailed), sees each outcome on the
version page, and may check again; only whoever may submit the version may check it."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from approvals import preflight
from approvals.models import Decision, Preflight, PromotionRequest
from approvals.services import InvalidTransition
from audit.models import AuditEvent
from tests import factories


@pytest.fixture
def draft(people, risk_model, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return factories.make_version(model=risk_model, by=people.dana, accuracy=0.5)  # below the 0.8 floor


def test_the_checks_run_and_nothing_else_happens(draft, people, background):
    with background():
        started = preflight.preflight_start(version=draft, actor=people.dana)
    started.refresh_from_db()
    outcomes = {check.check_type: check.status for check in started.checks.all()}
    assert outcomes == {"pickle_scan": "passed", "metric_threshold": "failed", "artifact_integrity": "passed"}
    assert started.status == Preflight.Status.FAILED and started.finished_at is not None
    threshold = started.checks.get(check_type="metric_threshold")
    assert "0.5" in threshold.summary
    # a dry run: no request, no decision, no e-mail, the version still a draft
    assert not PromotionRequest.objects.exists() and not Decision.objects.exists() and mail.outbox == []
    draft.refresh_from_db()
    assert draft.submitted_at is None and draft.stage == "development"
    event = AuditEvent.objects.get(verb="version.preflight")
    assert event.actor == people.dana and event.data["checks"] == 3


def test_a_passing_version_passes_and_pressing_twice_runs_once(people, risk_model, background):
    version = factories.make_version(model=risk_model, by=people.dana)
    first = preflight.preflight_start(version=version, actor=people.dana)  # its jobs wait: still running
    assert preflight.preflight_start(version=version, actor=people.dana) == first
    with background():
        again = preflight.preflight_start(version=factories.make_version(model=risk_model, by=people.dana),
                                          actor=people.dana)  # fmt: skip
    again.refresh_from_db()
    assert again.status == Preflight.Status.PASSED


def test_only_whoever_may_submit_checks_and_only_a_draft(draft, people, background, submit):
    for who in (people.mona, people.gina):
        with pytest.raises(PermissionDenied):
            preflight.preflight_start(version=draft, actor=who)
    submitted = submit(factories.make_version(model=draft.model, by=people.dana), people.dana)
    with pytest.raises(InvalidTransition, match="submitted already"):
        preflight.preflight_start(version=submitted.version, actor=people.dana)
    assert not Preflight.objects.exists()


def test_the_version_page_offers_it_and_shows_the_outcome(draft, people, client, background):
    client.force_login(people.dana)
    url = draft.get_absolute_url()
    page = client.get(url).content.decode()
    assert "Check this version</button>" in page and "Not checked yet" in page
    with background():
        response = client.post(f"{url}check/")
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert page.count('data-testid="preflight-check"') == 3 and "A dry run" in page and "Check again" in page
    client.force_login(people.mona)  # a reviewer sees the outcome but is not offered the button
    page = client.get(url).content.decode()
    assert 'data-testid="preflight-status"' in page and "Check again</button>" not in page
    assert client.post(f"{url}check/").status_code == 403
    assert Preflight.objects.count() == 1


def test_the_panel_polls_while_the_checks_run(draft, people, client):
    client.force_login(people.dana)
    preflight.preflight_start(version=draft, actor=people.dana)  # no worker here: it stays running
    url = draft.get_absolute_url()
    assert "data-live-url" in client.get(url).content.decode()
    partial = client.get(f"{url}check/progress/", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and 'id="preflight-panel"' in partial.content.decode()
    assert client.get(f"{url}check/progress/").status_code == 302  # a person gets the page
