"""An emergency release (break-glass) in headless Chromium at a laptop's and a phone's width:
the IT engineer asks, a manager agrees, the version is deployed and flagged, and the other
manager finds the retrospective waiting for them; axe finds nothing wrong on the way."""

import json

import pytest
from django.db import connections
from playwright.sync_api import expect

from approvals.models import EmergencyRelease, StepState
from tests.browser import log_in, log_out
from tests.pages.test_reviewer_decides import AXE, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1440, 390])
def test_break_glass_then_the_retrospective(browser, live_server, people, awaiting_manager, eager_tasks, width):
    assert AXE.exists(), "run `make install`'s test step (npm ci) to get axe-core"
    context = browser.new_context(base_url=live_server.url, bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    url = f"/requests/{awaiting_manager.pk}/"
    problems = {}

    def look(what):
        found = axe_violations(page)
        overflow = page.evaluate("document.documentElement.scrollWidth") - width
        if found or overflow > 0:
            problems[what] = {"violations": found, "overflow_px": overflow}

    try:
        log_in(page, "ivan")
        page.goto(url)
        glass = page.get_by_test_id("break-glass")
        glass.locator("summary").click()
        glass.locator("textarea").fill("Every score is null since the feature store change; this fixes the join.")
        look("ivan, the form open")
        glass.locator("button").click()
        expect(page.get_by_test_id("emergency")).to_contain_text("Waiting for a second person's agreement")
        log_out(page)

        log_in(page, "mona")
        page.goto(url)
        decide = page.get_by_test_id("emergency-decide")
        expect(page.get_by_test_id("emergency")).to_contain_text("feature store change")
        look("mona, asked to agree")
        decide.locator("button", has_text="Agree and release").click()
        expect(page.get_by_test_id("emergency")).to_contain_text("Agreed by mona")
        expect(page.get_by_test_id("emergency-flag").first).to_be_visible()
        log_out(page)

        log_in(page, "mike")
        page.goto("/requests/")
        row = page.locator("tr", has_text=f"#{awaiting_manager.pk}")
        expect(row.get_by_test_id("emergency-flag")).to_be_visible()
        page.goto(url)
        look("mike, the retrospective")
        page.get_by_test_id("decide").locator("button", has_text="Approve").click()
        expect(page.get_by_test_id("request-status")).to_contain_text("Deployed")
    finally:
        context.close()
        connections.close_all()  # the live server's connection in Playwright's context (see the page fixture)
    assert not problems, json.dumps(problems, indent=1)
    released = EmergencyRelease.objects.get()
    assert released.status == "released" and released.decided_by == people.mona
    assert released.retrospective.status == StepState.Status.APPROVED
    assert released.retrospective.decisions.get().actor == people.mike
