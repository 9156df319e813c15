"""In a real browser: an uploaded HTML artifact opened by a logged-in reviewer cannot act as her."""

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from approvals import services
from approvals.models import Decision, PromotionRequest
from tests import factories
from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# "(" first: registration takes it for a pickle (a bare HTML file is refused there); a browser
# that sniffed it would still run the page.
FORGER = """(<!doctype html><html><body><h1 id="owned">model card</h1><script>
  const csrf = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
  fetch('/requests/REQUEST/decide/', {method: 'POST', credentials: 'same-origin',
    headers: {'X-CSRFToken': csrf, 'Content-Type': 'application/x-www-form-urlencoded'},
    body: 'verdict=approve&comment=forged&step=STEP'});
</script></body></html>"""


def test_an_html_artifact_opened_by_a_manager_cannot_approve_as_her(page, people, risk_model, eager_tasks):
    request = services.promotion_request_submit(
        version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
    )
    request.refresh_from_db()
    payload = FORGER.replace("REQUEST", str(request.pk)).replace("STEP", str(request.current_step_id))
    card = factories.make_version(
        model=risk_model, by=people.dana, artifact=ContentFile(payload.encode(), name="model-card.html")
    )

    log_in(page, "mona")
    page.goto(f"/models/credit-risk/versions/{card.number}/")
    with page.expect_download() as download:
        page.get_by_test_id("artifact-download").click()
    assert download.value.suggested_filename.endswith(".html")
    expect(page.locator("h1")).to_contain_text(f"credit-risk v{card.number}")  # still Signoff's page

    # Opened directly, it is still a download, and the old /media/ address answers nothing.
    with pytest.raises(PlaywrightError, match="Download is starting"):
        page.goto(f"/models/credit-risk/versions/{card.number}/artifact/")
    assert page.goto(f"/media/{card.artifact.name}").status == 404
    page.wait_for_timeout(1000)  # time enough for a script, had one run, to post

    assert not Decision.objects.exists()
    assert PromotionRequest.objects.get(pk=request.pk).status == PromotionRequest.Status.AWAITING_REVIEW


def test_the_api_docs_render_under_the_content_security_policy(page, people):
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    log_in(page, "mona")
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Signoff API")
    assert not [v for v in violations if "script" in v], violations
