"""The conversation through the API: list, post, reply, edit, resolve; refusals are 4xx with the
reason and write nothing, hostile bodies included."""

import pytest

from approvals.models import Comment, Thread
from audit.models import AuditEvent


def url(request, tail=""):
    return f"/api/requests/{request.pk}/{tail}"


def test_post_reply_edit_resolve_and_list(people, awaiting_manager, api):
    mona, dana = api(people.mona), api(people.dana)
    r = mona.post(url(awaiting_manager, "comments/"), {"body": "Why is @quinn not on the QA list?"}, format="json")
    assert r.status_code == 201, r.content
    first = r.json()
    assert first["author"] == "mona" and first["mentioned"] == ["quinn"] and first["earlier_texts"] == []

    r = dana.post(url(awaiting_manager, "comments/"), {"body": "Added.", "thread": first["thread"]}, format="json")
    assert r.status_code == 201 and r.json()["thread"] == first["thread"]

    r = mona.patch(url(awaiting_manager, f"comments/{first['id']}/"), {"body": "Why is QA not listed?"}, format="json")
    assert r.status_code == 200 and r.json()["earlier_texts"] == ["Why is @quinn not on the QA list?"]
    assert r.json()["mentioned"] == []

    r = dana.post(url(awaiting_manager, f"threads/{first['thread']}/resolve/"), {"resolved": True}, format="json")
    assert r.status_code == 200 and r.json()["resolved"] is True and r.json()["resolved_by"] == "dana"

    r = api(people.quinn).get(url(awaiting_manager, "threads/"))
    assert r.status_code == 200
    (thread,) = r.json()["results"]
    assert [c["body"] for c in thread["comments"]] == ["Why is QA not listed?", "Added."]


def test_refusals_say_why_and_write_nothing(people, awaiting_manager, api):
    first = api(people.mona).post(url(awaiting_manager, "comments/"), {"body": "Question."}, format="json").json()
    talk = AuditEvent.objects.filter(verb__regex=r"^(comment|thread)\.")
    events, comments = talk.count(), Comment.objects.count()

    r = api(people.gina).post(url(awaiting_manager, "comments/"), {"body": "Hi"}, format="json")
    assert r.status_code == 404  # another team's model is not visible at all
    r = api(people.mike).patch(url(awaiting_manager, f"comments/{first['id']}/"), {"body": "Mine now"}, format="json")
    assert r.status_code == 403 and "Only its author" in r.json()["detail"]
    r = api(people.mike).post(url(awaiting_manager, f"threads/{first['thread']}/resolve/"), {"resolved": True},
                              format="json")  # fmt: skip
    assert r.status_code == 403 and "Only the person who started" in r.json()["detail"]
    r = api(people.mona).post(url(awaiting_manager, "comments/"), {"body": "x", "thread": 10**18}, format="json")
    assert r.status_code == 404
    r = api(people.mona).post(url(awaiting_manager, "comments/"), {"body": "x", "bdy": "y"}, format="json")
    assert r.status_code == 400 and "bdy" in str(r.json())
    assert (talk.count(), Comment.objects.count()) == (events, comments)
    assert Thread.objects.get(pk=first["thread"]).resolved_at is None


def test_a_read_only_token_cannot_comment(people, awaiting_manager):
    from rest_framework.test import APIClient

    from accounts.services import api_token_create

    _, key = api_token_create(user=people.mona, name="reader", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    r = client.post(url(awaiting_manager, "comments/"), {"body": "Hello"}, format="json")
    assert r.status_code == 403 and "'comment' scope" in r.json()["detail"]
    assert not Comment.objects.exists()


BODIES = [
    '{"body": "\\ud800"}',
    '{"body": "a\\u0000b"}',
    '{"body": 1e400}',
    '{"body": "x", "thread": 1e400}',
    '{"body": "x", "thread": ' + "1" + "0" * 400 + "}",
    '{"body": ' + "[" * 50 + "]" * 50 + "}",
    '{"body": "' + "a" * 1_000_000 + '"}',
    '{"body": "x", "thread": "../1"}',
    "[" * 10_000 + "]" * 10_000,
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_a_hostile_body_is_refused_and_writes_nothing(people, awaiting_manager, api, body):
    client = api(people.mona)
    first = client.post(url(awaiting_manager, "comments/"), {"body": "Seed."}, format="json").json()
    events = AuditEvent.objects.count()
    for target, method in [("comments/", client.post), (f"comments/{first['id']}/", client.patch),
                           (f"threads/{first['thread']}/resolve/", client.post)]:  # fmt: skip
        r = method(url(awaiting_manager, target), body, content_type="application/json")
        assert 400 <= r.status_code < 500, (target, r.status_code, r.content[:300])
    assert AuditEvent.objects.count() == events and Comment.objects.get().body == "Seed."


@pytest.mark.parametrize("tail", [f"comments/{10**400}/", f"threads/{10**400}/resolve/", "comments/../1/"])
def test_absurd_ids_in_the_path_are_4xx(people, awaiting_manager, api, tail):
    r = api(people.mona).post(url(awaiting_manager, tail), {"resolved": True, "body": "x"}, format="json")
    assert 400 <= r.status_code < 500
