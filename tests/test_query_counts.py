"""Every list page and list endpoint runs the same number of queries however many rows it shows."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import api_token_create
from approvals import conversation, services
from tests import factories

_names = itertools.count(1)

PAGES = [
    "/",
    "/models/",
    "/models/credit-risk/",
    "/models/credit-risk/versions/1/",
    "/requests/",
    "/requests/?view=all",
    "/requests/?view=all&status=awaiting_review",
    "/requests/{request}/",
    "/requests/{request}/progress/",
    "/audit/",
    "/audit/?model=credit-risk",
    "/models/credit-risk/compare/?v=1&v=2",
    "/models/credit-risk/compare/?v=1&v=2&request={request}",
]
ENDPOINTS = [
    "/api/models/",
    "/api/models/credit-risk/versions/",
    "/api/requests/",
    "/api/requests/?awaiting=me",
    "/api/requests/{request}/",
    "/api/requests/{request}/evidence/",
    "/api/requests/{request}/threads/",
    "/api/models/credit-risk/compare/?v=1&v=2",
    "/api/audit-events/",
]


def add_rows(people, model, background):
    """One more model, and on the measured model a version at each stage of the loop."""
    factories.make_model(team=people.risk, by=people.dana, name=f"extra-{next(_names)}")
    for reviewers in ([], [people.mona], [people.mona, people.quinn], [people.mona, people.quinn, people.ivan]):
        version = factories.make_version(model=model, by=people.dana)
        with background():
            request = services.promotion_request_submit(version=version, actor=people.dana)
        for reviewer in reviewers:
            request.refresh_from_db()
            with background():
                services.step_decide(request=request, actor=reviewer, verdict="approve", comment="ok")


def count_queries(client, url, **headers):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    assert response.status_code == 200, url
    return len(queries)


def measure(client, urls, first_request, **headers):
    return {url: count_queries(client, url.format(request=first_request.pk), **headers) for url in urls}


def converse(people, request, background):
    """One more thread on ``request``: a question mentioning two people, an answer, an edit, a resolve."""
    with background():
        question = conversation.comment_post(request=request, actor=people.mona, body="Why? @quinn @ivan")
        conversation.comment_post(request=request, actor=people.dana, body="Because.", thread=question.thread)
        conversation.comment_edit(comment=question, actor=people.mona, body="Why, @quinn?")
    conversation.thread_set_resolved(thread=question.thread, actor=people.dana, resolved=True, request=request)


@pytest.fixture
def grown(people, risk_model, background):
    add_rows(people, risk_model, background)
    first = risk_model.promotion_requests.order_by("pk").first()
    converse(people, first, background)
    return first


def test_pages_keep_a_constant_query_count(client, people, risk_model, background, grown):
    client.force_login(people.mona)
    before = measure(client, PAGES, grown, HTTP_HX_REQUEST="true")
    for _ in range(3):
        add_rows(people, risk_model, background)
        converse(people, grown, background)
    after = measure(client, PAGES, grown, HTTP_HX_REQUEST="true")
    assert after == before


def test_list_endpoints_keep_a_constant_query_count(client, people, risk_model, background, grown):
    _, token = api_token_create(user=people.mona, name="tests")
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
    client.get("/api/models/", **headers)  # the token's first use records it (once a minute at most)
    before = measure(client, ENDPOINTS, grown, **headers)
    for _ in range(3):
        add_rows(people, risk_model, background)
        converse(people, grown, background)
    after = measure(client, ENDPOINTS, grown, **headers)
    assert after == before


def test_who_may_decide_a_step_is_read_in_as_many_queries_for_twelve_people_as_for_three(
    people, risk_model, background, monkeypatch
):
    """The review e-mail's recipients and links (``permissions.deciders``): one evaluation of the
    eligibility expression per person, yet a number of queries that does not grow with them."""
    from datetime import timedelta

    from django.utils import timezone

    from approvals import delegations, permissions
    from registry.roles import DATA_SCIENTIST, MANAGER

    def asked_and_cost(step):
        with CaptureQueriesContext(connection) as queries:
            asked, now = permissions.deciders(step)
        return (
            {person.username for person in asked},
            {person.username for person in asked if person.pk in now},
            len(queries),
        )

    def manager_review(author=people.dana):
        with background():
            request = services.promotion_request_submit(
                version=factories.make_version(model=risk_model, by=author), actor=people.dana
            )
        return request.steps.get(name="manager_review")

    # mona's stand-in is asked with her
    stand_in = factories.make_user("stand-in", MANAGER, team=people.risk)
    moment = timezone.now()
    delegations.delegation_create(
        principal=people.mona, delegate=stand_in, starts_at=moment - timedelta(minutes=1),
        ends_at=moment + timedelta(days=1), reason="On leave.", actor=people.mona,
    )  # fmt: skip
    asked, now, few = asked_and_cost(manager_review())
    assert asked == now == {"mona", "mike", "stand-in"}

    # nine more managers, and one who also trains models and wrote the version (never asked)
    more = [factories.make_user(f"manager{n}", MANAGER, team=people.risk).username for n in range(9)]
    step = manager_review(author=factories.make_user("author", DATA_SCIENTIST, MANAGER, team=people.risk))
    asked, now, many = asked_and_cost(step)
    assert asked == now == {"mona", "mike", "stand-in", *more}  # not the version's author
    assert many == few
    # asked about in several queries of a few people each, the answer is the same
    monkeypatch.setattr(permissions, "ELIGIBILITY_BATCH", 5)
    assert asked_and_cost(step)[:2] == (asked, now)
