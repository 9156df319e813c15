"""A reviewer in headless Chromium: from the queue through the evidence and the comparison to a
decision; the confirmation hard decisions ask for; and every page checked with axe-core and at
390 px wide."""

import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.db import connections, transaction
from playwright.sync_api import expect

from approvals import selectors, services
from approvals.models import Decision, PromotionRequest
from evidence import comparison
from evidence.datasets import evaluation_dataset_register
from registry.services import model_version_set_stage
from tests import factories
from tests.approvals.test_compare import COMPARE_WORKFLOW, bundle
from tests.browser import log_in
from tests.evidence.test_datasets import FEATURES, holdout

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def measured_request(people, risk_model, eager_tasks, use_workflow):
    """credit-risk v1 in production and v2 awaiting the manager, both measured by the checks."""
    use_workflow(COMPARE_WORKFLOW)
    frame = holdout(rows=600, seed=17)
    evaluation_dataset_register(
        model=risk_model, file=ContentFile(frame.to_csv(index=False).encode(), name="holdout.csv"),
        name="holdout-2026q4", target_column="defaulted", sensitive_columns=["region"], actor=people.quinn,
    )  # fmt: skip
    production = factories.make_version(
        model=risk_model, by=people.dana, artifact=factories.artifact(bundle(FEATURES)), metrics={"accuracy": 0.8}
    )
    services.promotion_request_submit(version=production, actor=people.dana)
    with transaction.atomic():
        model_version_set_stage(version=production, stage="production")
    candidate = factories.make_version(
        model=risk_model, by=people.dana, artifact=factories.artifact(bundle(FEATURES, c=0.05)),
        metrics={"accuracy": 0.8}, params={"C": 0.05, "max_iter": 200},
    )  # fmt: skip
    return services.promotion_request_submit(version=candidate, actor=people.dana)


def test_a_reviewer_goes_from_the_queue_through_the_comparison_to_a_decision(page, people, measured_request):
    request = measured_request
    log_in(page, "mona")
    page.goto("/requests/")
    page.click(f"a[href='/requests/{request.pk}/']")
    evidence = page.get_by_test_id("evidence")
    expect(evidence).to_contain_text("against production v1")
    expect(evidence).to_contain_text("log_loss")

    page.get_by_test_id("compare-link").click()
    expect(page.locator("h1")).to_contain_text("Compare versions of credit-risk")
    expect(page.locator("svg.chart")).to_have_count(3)
    expect(page.get_by_test_id("compare-fairness")).to_contain_text("region = north")
    page.get_by_test_id("differences-only").click()
    expect(page.get_by_test_id("compare-params")).not_to_contain_text("max_iter")

    page.goto(f"/models/credit-risk/compare/?v=1&v=2&request={request.pk}")
    page.dismiss_dialogs = True
    page.fill("#id_comment", "Not convinced.")
    page.click("[data-testid=decide] button:has-text('Reject')")
    expect(page.locator("h1")).to_contain_text("Compare versions")
    assert page.confirmations and f"Reject request #{request.pk}?" in page.confirmations[-1]
    assert not Decision.objects.exists()  # cancelled: nothing decided
    page.dismiss_dialogs = False

    page.fill("#id_comment", "Measured AUC holds up against production; promote to QA.")
    page.click("[data-testid=decide] button:has-text('Approve')")
    expect(page.locator(".message-success")).to_contain_text("Your decision was recorded")
    decision = Decision.objects.get()
    request.refresh_from_db()
    assert decision.evidence_digest == comparison.digest(selectors.request_evidence(request=request))
    assert decision.evidence["baseline"] == 1 and decision.actor == people.mona
    assert request.status == PromotionRequest.Status.COMPLETED  # the workflow's last step was hers


PAGES = (
    "/",
    "/requests/",
    "/requests/{request}/",
    "/models/credit-risk/versions/2/",
    "/models/credit-risk/compare/?v=1&v=2&request={request}",
    "/models/credit-risk/",
    "/audit/",
    "/audit/?model=credit&since=2026-01-01",
    "/teams/",
    "/teams/{team}/",
    "/profile/email/",
    "/delegations/",
)


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:3]]} for v in result]


@pytest.mark.parametrize("width", [1440, 390])
def test_every_page_passes_axe_and_fits_the_width(browser, live_server, people, measured_request, width):
    assert AXE.exists(), "run `make install`'s test step (npm ci) to get axe-core"
    context = browser.new_context(base_url=live_server.url, bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        log_in(page, "mona")
        problems = {}
        for template in PAGES:
            url = template.format(request=measured_request.pk, team=people.risk.slug)
            page.goto(url)
            violations = axe_violations(page)
            overflow = page.evaluate("document.documentElement.scrollWidth") - width
            if violations or overflow > 0:
                problems[url] = {"violations": violations, "overflow_px": overflow}
        assert not problems, json.dumps(problems, indent=1)
    finally:
        context.close()
        connections.close_all()  # the live server's connection in Playwright's context (see the page fixture)


@pytest.mark.django_db(transaction=True)  # the checks run after the submission commits
def test_the_request_page_shows_the_evidence_each_decision_was_taken_on(client, people, measured_request):
    request = measured_request
    request.refresh_from_db()
    services.step_decide(request=request, actor=people.mona, verdict="approve", comment="Better than v1.")
    decision = request.decisions.get()
    assert decision.evidence and len(decision.evidence_digest) == 64

    client.force_login(people.quinn)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert 'data-testid="decision-evidence"' in page
    assert f"{decision.evidence_digest[:12]}…" in page
    assert f"v{decision.evidence['candidate']} against v1, then in production" in page


def test_a_deployed_request_says_what_is_true_today(client, people, risk_model, awaiting_manager, background):
    for actor in (people.mona, people.quinn, people.ivan):
        awaiting_manager.refresh_from_db()
        with background():
            services.step_decide(request=awaiting_manager, actor=actor, verdict="approve", comment="ok")
    awaiting_manager.refresh_from_db()
    assert awaiting_manager.status == "completed"
    client.force_login(people.mona)
    page = client.get(f"/requests/{awaiting_manager.pk}/").content.decode()
    assert "is in production yet" not in page
    assert f"v{awaiting_manager.version.number} is in production since" in page
