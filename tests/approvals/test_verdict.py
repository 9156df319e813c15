"""The verdict line at the top of the request page and of the comparison for a request: checks,
metrics against production, approvals per step, open threads; it reads what a reviewer would
have to work out from the page otherwise."""

from approvals import conversation, services
from approvals.models import CheckRun
from tests import factories


def verdict(client, url) -> str:
    page = client.get(url).content.decode()
    start = page.index('data-testid="verdict"')
    return page[start : page.index("</p>", start)]


def test_the_request_page_says_where_the_request_stands(people, awaiting_manager, background, client):
    client.force_login(people.mona)
    line = verdict(client, f"/requests/{awaiting_manager.pk}/")
    assert "✓ 3 of 3 checks passed" in line and "0 of 1 approval for Manager review" in line
    assert "worse than production" not in line  # nothing in production yet

    with background():
        conversation.comment_post(request=awaiting_manager, actor=people.mona, body="Why?")
        services.step_decide(request=awaiting_manager, actor=people.mona, verdict="approve", comment="ok")
    line = verdict(client, f"/requests/{awaiting_manager.pk}/")
    assert "✓ 1 of 1 approval for Manager review" in line and "0 of 1 approval for QA review" in line
    assert "1 open thread in the conversation" in line


def test_failed_checks_and_worse_metrics_are_named(people, risk_model, background, client):
    old, _current = factories.make_production_history(model=risk_model, by=people.dana)
    version = factories.make_version(model=risk_model, by=people.dana, accuracy=0.5)
    with background():
        request = services.promotion_request_submit(version=version, actor=people.dana)
    assert request.steps.get(name="automated_checks").check_runs.filter(status=CheckRun.Status.FAILED).exists()
    client.force_login(people.mona)
    line = verdict(client, f"/requests/{request.pk}/")
    assert "✗ 2 of 3 checks passed (metric_threshold failed)" in line
    assert "1 metric worse than production (accuracy)" in line

    compare = verdict(
        client, f"/models/credit-risk/compare/?v={version.number - 1}&v={version.number}&request={request.pk}"
    )
    assert "2 of 3 checks passed" in compare


def test_a_reviewer_on_a_phone_gets_a_bar_to_the_decision(people, awaiting_manager, client):
    client.force_login(people.mona)
    page = client.get(f"/requests/{awaiting_manager.pk}/").content.decode()
    review = awaiting_manager.steps.get(name="manager_review")
    assert f'href="#decide-{review.pk}" data-testid="decide-bar">Manager review waits for you' in page
    assert f'id="decide-{review.pk}"' in page
    client.force_login(people.quinn)  # nothing to decide yet: no bar
    assert 'data-testid="decide-bar"' not in client.get(f"/requests/{awaiting_manager.pk}/").content.decode()


def test_the_gate_reads_the_figure_its_check_reads_and_shows_the_headroom(people, risk_model, background, client):
    version = factories.make_version(model=risk_model, by=people.dana, accuracy=0.5)
    with background():
        request = services.promotion_request_submit(version=version, actor=people.dana)
    client.force_login(people.mona)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    row = page[page.index("<td>accuracy") : page.index("</tr>", page.index("<td>accuracy"))]
    # One figure (the author's: nothing was measured), marked; the gate on it fails by 0.3, like its check.
    assert "0.5000" in row and 'badge reported">reported' in row
    assert 'status-failed">fail' in row and "-0.3000" in row and "on reported" in row


def test_a_short_check_list_shows_what_failed_first(people, risk_model, background, client):
    version = factories.make_version(model=risk_model, by=people.dana, accuracy=0.5)
    with background():
        request = services.promotion_request_submit(version=version, actor=people.dana)
    client.force_login(people.mona)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    checks = page[page.index('<ul class="checks">') :]
    # Three checks (the basic workflow): short enough to show whole, the failure first.
    assert checks.index("accuracy ≥ 0.8") < checks.index("Pickle scan")
    assert "Show the" not in checks


def test_a_long_check_list_folds_the_passed_checks(shipped_workflow, people, risk_model, background, client):
    version = factories.make_version(model=risk_model, by=people.dana)
    with background():
        request = services.promotion_request_submit(version=version, actor=people.dana)
    runs = list(CheckRun.objects.filter(step__request=request))
    passed = sum(run.status == "passed" for run in runs)
    assert len(runs) == 8 and 0 < passed < 8
    client.force_login(people.mona)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert f"{passed} of 8 passed; the others first." in page
    folded = page[page.index(f"Show the {passed} passed checks") : page.index("</details>", page.index("Show the"))]
    assert folded.count("status-passed") == passed and "status-failed" not in folded
