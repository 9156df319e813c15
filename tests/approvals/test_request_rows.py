"""The API's request list runs SQL compiled once per shape of user (``config.prepared``): for
every caller it must read exactly what building the query anew for that caller reads."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from approvals import selectors, services
from approvals.models import PromotionRequest
from config.prepared import PreparedValues
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
        assert rows.prepared and rows[0:1000] == list(fresh), (username, filters)
        statement = rows.statement()
        if statement is not None:
            assert statement == fresh.query.get_compiler(using="default").as_sql(), (username, filters)


def test_people_of_one_shape_share_the_sql_and_still_see_their_own_queues(spread):
    mona_rows = selectors.request_rows(user=spread.mike, awaiting_me=True)
    gary_rows = selectors.request_rows(user=spread.gary, awaiting_me=True)
    assert mona_rows.statement()[0] == gary_rows.statement()[0]  # one manager group and one team each
    assert {row["model__name"] for row in mona_rows[0:100]} == {"credit-risk"}
    assert {row["model__name"] for row in gary_rows[0:100]} == {"churn"}
    named = selectors.request_rows(user=spread.nora, awaiting_me=True)[0:100]
    assert len(named) == 1 and named[0]["model__name"] == "credit-risk"  # named on the step, no role
    assert selectors.request_rows(user=spread.zed)[0:100] == []


def test_pages_are_windows_of_one_order(spread):
    everything = selectors.request_rows(user=spread.root)[0:100]
    assert len(everything) == 4
    rows = selectors.request_rows(user=spread.root)
    assert rows[0:2] + rows[2:3] + rows[3:10] == everything
    assert rows[5:10] == [] and rows[3:3] == []


def test_inactive_people_read_nothing(spread):
    spread.mona.is_active = False
    assert selectors.request_rows(user=spread.mona)[0:100] == []


def test_a_query_that_is_not_an_unsliced_values_list_is_refused(db):
    sliced = PreparedValues(lambda shape, group: Group.objects.filter(pk=group).values("name")[:5])
    with pytest.raises(ValueError, match="unsliced values"):
        sliced.rows(None, group=1)
    instances = PreparedValues(lambda shape, group: Group.objects.filter(pk=group))
    with pytest.raises(ValueError, match="unsliced values"):
        instances.rows(None, group=1)


def test_stand_in_lists_keep_their_order(db):
    ids = PreparedValues(lambda shape, groups: Group.objects.filter(pk__in=groups).values("pk"))
    with pytest.raises(ValueError, match="must be sorted"):
        ids.rows(None, groups=[3, 1])
    first, second = Group.objects.order_by("pk")[:2]
    assert ids.rows(None, groups=[first.pk, second.pk])[0:10] == [{"pk": first.pk}, {"pk": second.pk}]
    assert ids.rows(None, groups=[])[0:10] == []  # no group: no row can match, nothing is run


def test_an_id_past_64_bits_matches_nothing(db):
    by_id = PreparedValues(lambda shape, group: Group.objects.filter(pk=group).values("pk"))
    assert by_id.rows(None, group=10**400)[0:10] == [] and by_id.rows(None, group=-(2**63) - 1)[0:10] == []
    group = Group.objects.first()
    assert by_id.rows(None, group=group.pk)[0:10] == [{"pk": group.pk}]


def test_a_shape_whose_stand_ins_mislead_is_not_kept(db, caplog):
    """A build that branches on a value (the stand-ins take one branch, the caller another) fails
    the first caller's proof: its rows still come out right, from a fresh queryset."""
    first, second = Group.objects.order_by("pk")[:2]
    below = PreparedValues(
        lambda shape, limit: (Group.objects.filter(pk__lt=limit) if limit < 1000 else Group.objects.none()).values("pk")
    )
    rows = below.rows(None, limit=second.pk)
    assert not rows.prepared and rows[0:10] == [{"pk": first.pk}]
    assert "not kept" in caplog.text


@pytest.mark.parametrize("username", USERS)
def test_a_model_is_read_from_kept_sql_as_the_orm_reads_it(spread, username):
    from django.http import Http404

    from registry import roles
    from registry.permissions import models_visible_to
    from registry.selectors import _VISIBLE_MODEL, model_get

    user = get_user_model().objects.get(username=username)
    for name in ("credit-risk", "churn", "no-such-model"):
        shape, values = roles.prepared_for(user)
        assert _VISIBLE_MODEL.rows(shape, **values, name=name).prepared
        stored = models_visible_to(user).select_related("team", "created_by").filter(name=name).first()
        if stored is None:
            with pytest.raises(Http404):
                model_get(user=user, name=name)
            continue
        read = model_get(user=user, name=name)
        assert (read.pk, read.name, read.team.name, read.created_by.username, read.created_at) == (
            stored.pk, stored.name, stored.team.name, stored.created_by.username, stored.created_at,
        )  # fmt: skip


def test_the_other_kept_queries_prove_themselves(spread, api, caplog):
    """The token, group and audit-chain reads (on nearly every request) stay on kept SQL and agree
    with the ORM; a full API round trip logs no shape that failed its proof."""
    from accounts.selectors import _BY_PREFIX
    from approvals.audit import _NEWEST_DIGEST
    from approvals.models import AuditEvent
    from registry.roles import _GROUPS, group_ids

    newest = AuditEvent.objects.order_by("-pk").first()
    kept = _NEWEST_DIGEST.rows(None, chain=newest.chain)
    assert kept.prepared and kept[0:1] == [{"digest": newest.digest}]
    mona = get_user_model().objects.get(pk=spread.mona.pk)  # her groups changed since the fixture read them
    groups = _GROUPS.rows(None, user_id=mona.pk)
    stored = sorted(mona.groups.values_list("id", flat=True))  # the ORM's answer
    assert groups.prepared and sorted(row["id"] for row in groups.all()) == stored and len(stored) == 3
    assert group_ids(mona) == stored
    assert _BY_PREFIX.rows(None, prefix="0123abcd").prepared
    client = api(spread.gary)
    assert client.get("/api/requests/?awaiting=me").status_code == 200
    assert client.get("/api/models/churn/versions/1/").status_code == 200
    assert "not kept" not in caplog.text
