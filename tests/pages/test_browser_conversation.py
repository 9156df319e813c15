"""The conversation, a waiver and the phone's decision bar in headless Chromium, as each person
would use them."""

import pytest
from django.db import connections
from playwright.sync_api import expect

from approvals.models import Comment, Thread
from tests.browser import log_in, log_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_asks_and_the_author_answers_and_resolves(page, people, awaiting_manager, eager_tasks):
    url = f"/requests/{awaiting_manager.pk}/"
    log_in(page, "mona")
    page.goto(url)
    expect(page.get_by_test_id("verdict")).to_contain_text("0 of 1 approval for Manager review")
    page.get_by_test_id("new-thread").locator("textarea").fill("@dana is the **2024 cohort** in the hold-out?")
    page.get_by_test_id("new-thread").locator("button").click()
    expect(page.locator(".message-success")).to_contain_text("Your comment was posted")
    expect(page.get_by_test_id("comment").first.locator("strong", has_text="2024 cohort")).to_be_visible()
    expect(page.get_by_test_id("verdict")).to_contain_text("1 open thread in the conversation")
    log_out(page)

    log_in(page, "dana")
    page.goto(url)
    thread = page.get_by_test_id("thread").first
    thread.locator("summary", has_text="Reply").click()
    thread.locator("textarea[name=body]").last.fill("Yes: 3% of its rows.")
    thread.locator("button", has_text="Reply").click()
    expect(page.get_by_test_id("comment").nth(1)).to_contain_text("Yes: 3% of its rows.")
    page.get_by_test_id("thread").first.locator("button", has_text="Resolve").click()
    expect(page.get_by_test_id("resolved")).to_contain_text("Resolved by dana")
    assert Comment.objects.count() == 2 and Thread.objects.get().resolved_by == people.dana


def test_on_a_phone_the_bar_leads_to_the_decision(browser, live_server, people, awaiting_manager):
    phone = browser.new_page(base_url=live_server.url, viewport={"width": 390, "height": 800})
    try:
        log_in(phone, "mona")
        phone.goto(f"/requests/{awaiting_manager.pk}/")
        bar = phone.get_by_test_id("decide-bar")
        expect(bar).to_be_visible()
        expect(phone.get_by_test_id("decide")).not_to_be_in_viewport()
        bar.click()
        expect(phone.get_by_test_id("decide")).to_be_in_viewport()
    finally:
        phone.close()
        connections.close_all()  # as the page fixture does: the live server's context holds one
