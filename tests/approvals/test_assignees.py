"""Default assignees: a step whose definition names ``assignees`` starts held by the first of
them who may decide it; everyone sees who holds it (page, queue, API); the claim lapses as any."""

import pytest

from approvals import services
from approvals.definitions import DefinitionError, parse_definition, reference_problems
from tests import factories
from tests.conftest import BASIC_WORKFLOW

ASSIGNED = BASIC_WORKFLOW.read_text().replace(
    "    approvers: [manager]\n", "    approvers: [manager]\n    assignees: [dana, mike, mona]\n", 1
)


def test_the_first_assignee_who_may_decide_holds_the_step(use_workflow, people, risk_model, background, client, api):
    use_workflow(ASSIGNED)
    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
    review = request.steps.get(name="manager_review")
    # dana submitted it (four-eyes): she is skipped; mike is the first who may decide.
    assert review.claim_holder == people.mike
    client.force_login(people.mona)
    assert 'data-testid="queue-claim">(mike reviewing)' in client.get("/requests/").content.decode()
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert "assigned Manager review to mike" in page
    steps = api(people.mona).get(f"/api/requests/{request.pk}/").json()["steps"]
    assert next(s for s in steps if s["name"] == "manager_review")["claimed_by"] == "mike"


def test_assignees_are_checked_like_any_name(people):
    with pytest.raises(DefinitionError, match="'assignees' must be a list of names"):
        parse_definition(ASSIGNED.replace("assignees: [dana, mike, mona]", "assignees: mike"))
    problems = reference_problems(parse_definition(ASSIGNED.replace("[dana, mike, mona]", "[nobody]")))
    assert "step 'manager_review': there is no active user called 'nobody'" in problems


def test_the_model_page_says_who_decides_what(people, risk_model, client):
    factories.make_version(model=risk_model, by=people.dana)
    client.force_login(people.quinn)
    page = client.get("/models/credit-risk/").content.decode()
    card = page[page.index('data-testid="who-decides"') :]
    card = card[: card.index("</section>")]
    assert "workflow <code>default</code>" in card
    assert "mike, mona" in card  # the managers decide the manager review
    assert "quinn" in card and "ivan" in card and "gina" not in card and "dana" not in card  # the author is out
