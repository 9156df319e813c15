"""Working together in headless Chromium, at a laptop's and a phone's width, as each role would:
a claim the others see, a delegate deciding while the principal is away (and refused when the
delegate submitted the work), a waiver refused and then granted, and a decision link from an
e-mail opened by a link scanner deciding nothing. axe finds no violation on any page visited."""

import json
import re
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect

from approvals import email_actions, services
from approvals.delegations import delegation_create
from approvals.models import Decision, PromotionRequest, Waiver
from tests import factories
from tests.approvals.test_waivers import WAIVABLE
from tests.browser import log_in, log_out
from tests.conftest import BASIC_WORKFLOW
from tests.pages.test_reviewer_decides import AXE, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = [1440, 390]


@pytest.fixture
def at_width(browser, live_server, request):
    """A fresh page of the given width; ``look(what)`` records axe violations and overflow."""
    contexts, problems = [], {}

    def open_page(width):
        context = browser.new_context(
            base_url=live_server.url, bypass_csp=True, viewport={"width": width, "height": 900}
        )
        contexts.append(context)
        page = context.new_page()

        def look(what):
            found = axe_violations(page)
            overflow = page.evaluate("document.documentElement.scrollWidth") - width
            if found or overflow > 0:
                problems[f"{what} @{width}"] = {"violations": found, "overflow_px": overflow}

        return page, look

    yield open_page
    for context in contexts:
        context.close()
    connections.close_all()  # the live server's connection in Playwright's context (see the page fixture)
    assert AXE.exists(), "run `make install`'s test step (npm ci) to get axe-core"
    assert not problems, json.dumps(problems, indent=1)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_claim_shows_to_the_others(at_width, people, awaiting_manager, width):
    page, look = at_width(width)
    url = f"/requests/{awaiting_manager.pk}/"
    log_in(page, "mona")
    page.goto(url)
    page.get_by_test_id("claim-form").locator("button").click()
    expect(page.get_by_test_id("claim-form")).to_contain_text("You are reviewing this")
    look("mona, claimed")
    log_out(page)
    log_in(page, "mike")
    page.goto(url)
    expect(page.get_by_test_id("claim-form")).to_contain_text("mona is reviewing this; you may still decide")
    page.goto("/requests/")
    expect(page.get_by_test_id("queue-claim").first).to_contain_text("mona reviewing")
    look("mike, the queue")


NAMED = BASIC_WORKFLOW.read_text().replace("    approvers: [manager]\n", "    users: [mona]\n", 1)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_delegate_decides_on_behalf_and_a_delegate_who_submitted_cannot(
    at_width, people, risk_model, use_workflow, eager_tasks, width
):
    use_workflow(NAMED)
    page, look = at_width(width)
    log_in(page, "mona")
    page.goto("/delegations/")
    form = page.get_by_test_id("delegation-form")
    form.locator("select[name=delegate]").select_option(label="mike")
    now = timezone.localtime()
    form.locator("input[name=starts_at]").fill((now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    form.locator("input[name=ends_at]").fill((now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    form.locator("input[name=reason]").fill("On leave until Thursday.")
    form.locator("button").click()
    expect(page.locator(".message-success")).to_be_visible()
    look("mona, her delegation")
    log_out(page)

    request = services.promotion_request_submit(
        version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
    )
    log_in(page, "mike")
    page.goto(f"/requests/{request.pk}/")
    decide = page.get_by_test_id("decide")
    decide.locator("textarea").fill("Looked at it for mona.")
    decide.locator("button", has_text="Approve").click()
    expect(page.get_by_test_id("on-behalf-of").first).to_contain_text("on behalf of mona")
    look("mike, decided on behalf")
    assert Decision.objects.get(request=request).on_behalf_of == people.mona
    log_out(page)

    # a delegate who submitted the work decides nothing of it
    delegation_create(
        principal=people.mona, delegate=people.dana, starts_at=timezone.now() - timedelta(minutes=1),
        ends_at=timezone.now() + timedelta(days=1), reason="Also away.", actor=people.mona,
    )  # fmt: skip
    second = services.promotion_request_submit(
        version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
    )
    log_in(page, "dana")
    page.goto(f"/requests/{second.pk}/")
    expect(page.get_by_test_id("decide")).to_have_count(0)
    look("dana, her own request")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_waiver_refused_then_granted(at_width, people, risk_model, use_workflow, eager_tasks, width):
    use_workflow(WAIVABLE)
    request = services.promotion_request_submit(
        version=factories.make_version(model=risk_model, by=people.dana, accuracy=0.5), actor=people.dana
    )
    url = f"/requests/{request.pk}/"
    page, look = at_width(width)

    def ask(reason):
        log_in(page, "dana")
        page.goto(url)
        asking = page.get_by_test_id("waiver-ask")
        asking.locator("summary").click()
        asking.locator("textarea").fill(reason)
        asking.locator("button").click()
        expect(page.get_by_test_id("waiver").last).to_contain_text("Waiver asked")
        look("dana, waiver asked")
        log_out(page)

    def answer(button, comment):
        log_in(page, "mona")
        page.goto(url)
        deciding = page.get_by_test_id("waiver-decide")
        deciding.locator("textarea").fill(comment)
        deciding.locator("button", has_text=button).click()
        look(f"mona, {button}")
        log_out(page)

    ask("The 0.8 floor predates the new labels.")
    answer("Refuse", "Show me the new labels first.")
    assert Waiver.objects.get().status == "refused"
    ask("Here are the new labels: see the model card.")
    answer("Grant", "Convinced.")
    assert PromotionRequest.objects.get(pk=request.pk).status == "awaiting_review"


@pytest.mark.parametrize("width", WIDTHS)
def test_an_email_link_opened_by_a_scanner_decides_nothing(at_width, people, awaiting_manager, width):
    step = awaiting_manager.steps.get(name="manager_review")
    token = email_actions.action_token(user=people.mona, step=step, verdict="approve")
    link = f"/requests/{awaiting_manager.pk}/act/?t={token}"
    page, look = at_width(width)
    page.goto(link)  # a scanner: no session
    expect(page).to_have_url(re.compile(r"/login/"))
    log_in(page, "mona")
    page.goto(link)  # the person, logged in: a confirm page, still nothing decided
    expect(page.locator("h1")).to_be_visible()
    look("mona, the confirm page")
    assert not Decision.objects.exists()
    page.locator("form button[type=submit]", has_text="Approve").click()
    expect(page.locator(".message-success")).to_contain_text("Your decision was recorded")
    assert Decision.objects.get().actor == people.mona


@pytest.mark.parametrize("width", WIDTHS)
def test_an_administrator_adds_a_manager_of_one_team(at_width, people, risk_model, width):
    factories.make_user("ada", is_superuser=True, is_staff=True)
    newcomer = factories.make_user("nia")
    page, look = at_width(width)
    log_in(page, "ada")
    page.goto(f"/teams/{people.risk.slug}/")
    look("ada, the team page")
    adding = page.get_by_test_id("add-member")
    adding.locator("select[name=user]").select_option(label="nia")
    adding.locator("label", has_text="manager").locator("input").check()
    adding.locator("button").click()
    expect(page.locator(".message-success")).to_contain_text("nia is now in Risk")
    row = page.get_by_test_id("member").filter(has_text="nia")
    expect(row.locator("input[type=checkbox]:checked")).to_have_count(1)
    look("ada, after adding")
    assert newcomer.team_roles.get().role.name == "manager"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_conversation_travels_with_the_fixed_version(at_width, people, awaiting_manager, eager_tasks, width):
    """mona asks and sends the work back; dana registers the fixed version through the page; the
    open thread shows on the new request, and dana answers it there."""
    page, look = at_width(width)
    first = f"/requests/{awaiting_manager.pk}/"
    log_in(page, "mona")
    page.goto(first)
    page.get_by_test_id("new-thread").locator("textarea").fill("@dana why is the 2024 cohort missing?")
    page.get_by_test_id("new-thread").locator("button").click()
    expect(page.locator(".message-success")).to_contain_text("Your comment was posted")
    decide = page.get_by_test_id("decide")
    decide.locator("textarea[name=comment]").fill("Add the 2024 cohort, then resubmit.")
    decide.locator("button", has_text="Request changes").click()
    expect(page.get_by_test_id("request-status")).to_contain_text("Changes requested")
    log_out(page)

    log_in(page, "dana")
    page.goto(first)
    page.get_by_test_id("fix").locator("a").click()
    page.locator("input[name=artifact]").set_input_files(
        files=[{"name": "model.joblib", "mimeType": "application/octet-stream", "buffer": factories.artifact().read()}]
    )
    page.locator("input[name=metric_value_0]").fill("0.92")  # the fixed version's own figures
    page.locator("input[name=metric_value_1]").fill("0.89")
    page.locator("form button[type=submit]", has_text="Register").last.click()
    page.locator("button", has_text="Submit for approval").click()
    expect(page.get_by_test_id("resubmission")).to_contain_text(f"Resubmission of #{awaiting_manager.pk}")
    thread = page.get_by_test_id("thread").first
    expect(thread.get_by_test_id("carried")).to_contain_text(f"request #{awaiting_manager.pk}")
    thread.locator("summary", has_text="Reply").click()
    thread.locator("textarea[name=body]").last.fill("Added it in this version: 1,200 rows.")
    thread.locator("button", has_text="Reply").click()
    expect(page.get_by_test_id("comment").nth(1)).to_contain_text("1,200 rows")
    look("dana, the answer on the fixed version")
    page.goto(first)
    expect(page.get_by_test_id("answered-by")).to_be_visible()
    expect(page.get_by_test_id("comment").nth(1)).to_contain_text("1,200 rows")  # the same thread
