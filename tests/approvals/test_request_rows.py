"""The API's request list (``selectors.request_rows``) reads, for every caller, exactly the rows of
the permission-scoped request list: the same filters, the same order, one query per page."""

import pytest
from django.contrib.auth import get_user_model

from approvals import selectors, services
from approvals.models import PromotionRequest
from registry.roles import MANAGER
from tests import factories

NAMED_REVIEW = """
name: named
steps:
  - name: manager_review
    type: approval
    title: Manager review
    approvers: [manager]
    users: [nora]
"""

FILTERS = [
    {},
    {"awaiting_me": True},
    {"status": PromotionRequest.Status.AWAITING_REVIEW},
    {"status": PromotionRequest.Status.REJECTED, "model_name": "credit-risk"},
    {"awaiting_me": True, "model_name": "churn"},
]


@pytest.fixture
def spread(people, risk_model, growth_model, submit, use_workflow):
    """Requests of two teams in several states, and people of every shape: no group, one team,
    a role and two teams, a superuser, a person named on a step."""
    use_workflow(NAMED_REVIEW)
    for model, author in ((risk_model, people.dana), (growth_model, people.gina)):
        for _ in range(2):
            submit(factories.make_version(model=model, by=author), author)
    rejected = PromotionRequest.objects.filter(model=risk_model).first()
    services.step_decide(request=rejected, actor=people.mona, step=None, verdict="reject", comment="Not yet.")
    people.zed = get_user_model().objects.create_user(username="zed")
    people.mona.groups.add(people.growth.group)
    people.root = get_user_model().objects.create_superuser(username="root", email="root@example.com")
    people.boss = factories.make_user("boss", MANAGER, team=people.growth, is_superuser=True)
    return people


USERS = ["mona", "mike", "gary", "nora", "dana", "zed", "root", "boss"]


@pytest.mark.parametrize("username", USERS)
def test_each_caller_reads_what_their_own_query_reads(spread, username):
    user = get_user_model().objects.get(username=username)  # a fresh object: groups read anew
    for filters in FILTERS:
        fresh = selectors.request_list(user=user, **filters).values("pk", *selectors.REQUEST_ROW)
        rows = selectors.request_rows(user=user, **filters)
        assert list(rows[0:1000]) == list(fresh), (username, filters)


def test_people_of_one_shape_see_their_own_queues(spread):
    mona_rows = selectors.request_rows(user=spread.mike, awaiting_me=True)
    gary_rows = selectors.request_rows(user=spread.gary, awaiting_me=True)
    assert {row["model__name"] for row in mona_rows[0:100]} == {"credit-risk"}
    assert {row["model__name"] for row in gary_rows[0:100]} == {"churn"}
    named = selectors.request_rows(user=spread.nora, awaiting_me=True)[0:100]
    assert len(named) == 1 and named[0]["model__name"] == "credit-risk"  # named on the step, no role
    assert not selectors.request_rows(user=spread.zed)[0:100]


def test_pages_are_windows_of_one_order(spread):
    everything = list(selectors.request_rows(user=spread.root)[0:100])
    assert len(everything) == 4
    rows = selectors.request_rows(user=spread.root)
    assert [*rows[0:2], *rows[2:3], *rows[3:10]] == everything
    assert not rows[5:10] and not rows[3:3]


def test_inactive_people_read_nothing(spread):
    spread.mona.is_active = False
    assert not selectors.request_rows(user=spread.mona)[0:100]


@pytest.mark.parametrize("username", USERS)
def test_a_model_is_read_only_by_those_who_may_see_it(spread, username):
    from django.http import Http404

    from registry.permissions import models_visible_to
    from registry.selectors import model_get

    user = get_user_model().objects.get(username=username)
    for name in ("credit-risk", "churn", "no-such-model"):
        stored = models_visible_to(user).select_related("team", "created_by").filter(name=name).first()
        if stored is None:
            with pytest.raises(Http404):
                model_get(user=user, name=name)
            continue
        read = model_get(user=user, name=name)
        assert (read.pk, read.name, read.team.name, read.created_by.username, read.created_at) == (
            stored.pk, stored.name, stored.team.name, stored.created_by.username, stored.created_at,
        )  # fmt: skip


def test_a_change_of_groups_is_seen_by_the_next_request(spread, api):
    """Groups are cached per user object (one web request), never across requests."""
    from registry.roles import group_ids

    mona = get_user_model().objects.get(pk=spread.mona.pk)
    assert group_ids(mona) == sorted(mona.groups.values_list("id", flat=True))
    client = api(spread.gary)
    assert client.get("/api/requests/?awaiting=me").json()["results"]
    spread.gary.groups.remove(*spread.gary.groups.filter(name=MANAGER))
    assert client.get("/api/requests/?awaiting=me").json()["results"] == []
