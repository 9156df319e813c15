"""The whole loop through the pages in headless Chromium, logging in as each role."""

import pytest
from playwright.sync_api import expect

from approvals.models import JobKind, PromotionRequest
from jobs.models import Job
from jobs.runner import job_run
from registry.models import ModelVersion
from tests import factories
from tests.browser import log_in, log_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def decide(page, request_id, comment, button):
    page.goto(f"/requests/{request_id}/")
    page.fill("#id_comment", comment)
    page.click(f"button:has-text('{button}')")
    expect(page.locator(".message-success")).to_contain_text("Your decision was recorded")


def test_a_version_goes_from_development_to_production_through_the_pages(page, people, risk_model, eager_tasks):
    previous = factories.make_version(model=risk_model, by=people.dana)
    ModelVersion.objects.filter(pk=previous.pk).update(stage="production")
    version = factories.make_version(model=risk_model, by=people.dana, accuracy=0.93)

    log_in(page, "dana")
    page.goto(f"/models/credit-risk/versions/{version.number}/")
    page.click("button:has-text('Submit for approval')")
    expect(page.locator("h1")).to_contain_text("credit-risk v2")
    request_id = PromotionRequest.objects.get(version=version).pk
    page.reload()
    expect(page.get_by_test_id("request-status")).to_contain_text("Awaiting review")
    expect(page.locator("button:has-text('Approve')")).to_have_count(0)  # four-eyes: not for the author
    log_out(page)

    log_in(page, "mona")
    expect(
        page.locator("section", has_text="Waiting for me").locator(f"a[href='/requests/{request_id}/']")
    ).to_be_visible()
    decide(page, request_id, "Beats production on AUC; promote to QA.", "Approve")
    log_out(page)

    log_in(page, "quinn")
    decide(page, request_id, "QA suite green on the hold-out set.", "Approve")
    log_out(page)

    log_in(page, "ivan")
    decide(page, request_id, "Rolled out.", "Deploy")
    assert page.confirmations == ["Deploy credit-risk v2 to production?"]  # asked before deploying
    expect(page.get_by_test_id("request-status")).to_contain_text("Deployed")
    for who, comment in (("mona", "Beats production"), ("quinn", "QA suite green"), ("ivan", "Rolled out.")):
        expect(page.locator(".decision", has_text=who)).to_contain_text(comment)

    page.goto(f"/models/credit-risk/versions/{version.number}/")
    expect(page.get_by_test_id("stage")).to_have_text("Production")
    page.goto(f"/models/credit-risk/versions/{previous.number}/")
    expect(page.get_by_test_id("stage")).to_have_text("Archived")


def test_the_request_page_follows_the_checks_live(page, people, risk_model):
    """The checks run while the page is open (here in this process, as a worker would); the page
    polls the progress partial and shows the outcome without a reload by the user."""
    version = factories.make_version(model=risk_model, by=people.dana)
    log_in(page, "dana")
    page.goto(f"/models/credit-risk/versions/{version.number}/")
    page.click("button:has-text('Submit for approval')")
    expect(page.locator(".step-running")).to_have_count(1)

    request = PromotionRequest.objects.get(version=version)
    runs = request.current_step.check_runs.values("pk")
    for kind in (JobKind.RUN_CHECK, JobKind.CONCLUDE_CHECKS):  # what the worker would run, in order
        for job in Job.objects.filter(kind=kind, target_id__in=runs):
            job_run(job.pk)

    expect(page.get_by_test_id("request-status")).to_contain_text("Awaiting review", timeout=15_000)
    expect(page.locator(".checks .status-passed")).to_have_count(3)
