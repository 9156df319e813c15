"""The conversation on the request page: comment, reply, edit within the window, resolve and
reopen; a refused comment comes back with the reason and the text as typed, and writes nothing."""

import pytest

from approvals.models import Comment, Thread


def page_url(request, tail=""):
    return f"/requests/{request.pk}/{tail}"


def test_a_reviewer_and_the_author_talk_on_the_page(client, people, awaiting_manager, background):
    client.force_login(people.mona)
    with background():
        r = client.post(page_url(awaiting_manager, "comments/"), {"body": "Is the **2024 cohort** in the hold-out?"})
    comment = Comment.objects.get()
    assert r.status_code == 302 and r["Location"].endswith(f"#comment-{comment.pk}")
    page = client.get(page_url(awaiting_manager)).content.decode()
    assert "<strong>2024 cohort</strong>" in page and "1 open thread of 1" in page
    assert page.count('action="/requests/%d/comments/%d/edit/"' % (awaiting_manager.pk, comment.pk)) == 1
    assert "Resolve</button>" in page  # mona started the thread

    client.force_login(people.dana)
    with background():
        client.post(page_url(awaiting_manager, "comments/"), {"body": "Yes, 3% of rows.", "thread": comment.thread_id})
    r = client.post(page_url(awaiting_manager, f"threads/{comment.thread_id}/resolve/"), {"resolved": "on"})
    assert r.status_code == 302
    page = client.get(page_url(awaiting_manager)).content.decode()
    assert "Yes, 3% of rows." in page and "Resolved by dana" in page and "Reopen</button>" in page
    assert "0 open threads of 1" in page
    # dana may not edit mona's comment: no form for it
    assert f"comments/{comment.pk}/edit/" not in page

    r = client.post(page_url(awaiting_manager, f"threads/{comment.thread_id}/resolve/"), {})
    assert r.status_code == 302 and Thread.objects.get().resolved_at is None


def test_an_edit_on_the_page_keeps_the_earlier_text(client, people, awaiting_manager, background):
    client.force_login(people.mona)
    with background():
        client.post(page_url(awaiting_manager, "comments/"), {"body": "Looks good"})
    comment = Comment.objects.get()
    r = client.post(page_url(awaiting_manager, f"comments/{comment.pk}/edit/"), {"body": "Looks good to me."})
    assert r.status_code == 302
    page = client.get(page_url(awaiting_manager)).content.decode()
    assert "Looks good to me." in page and "until" in page and "Looks good</div>" in page


@pytest.mark.parametrize(
    ("data", "problem"),
    [({"body": ""}, "This field is required"), ({"body": "a\x00b"}, "NUL character"),
     ({"body": "x", "thread": "1" + "0" * 400}, "Ensure this value is less than or equal to"),
     ({"body": "x", "thread": "../3"}, "Enter a whole number"), ({"body": "y" * 20_001}, "at most 20000")],
)  # fmt: skip
def test_a_refused_comment_comes_back_with_the_reason(client, people, awaiting_manager, data, problem):
    client.force_login(people.mona)
    r = client.post(page_url(awaiting_manager, "comments/"), data)
    assert r.status_code == 400
    assert problem in r.content.decode()
    assert not Comment.objects.exists() and not Thread.objects.exists()


def test_a_failed_reply_stays_in_its_thread_with_the_text(client, people, awaiting_manager, background):
    client.force_login(people.mona)
    with background():
        client.post(page_url(awaiting_manager, "comments/"), {"body": "First."})
    thread = Thread.objects.get()
    mentions = " ".join(f"@user{i}" for i in range(21))
    r = client.post(page_url(awaiting_manager, "comments/"), {"body": mentions, "thread": thread.pk})
    page = r.content.decode()
    assert r.status_code == 400 and "Mention at most 20 people" in page and mentions in page
    assert Comment.objects.count() == 1


def test_people_outside_the_model_see_nothing_and_write_nothing(client, people, awaiting_manager, background):
    client.force_login(people.mona)
    with background():
        client.post(page_url(awaiting_manager, "comments/"), {"body": "Internal note."})
    comment = Comment.objects.get()
    client.force_login(people.gina)
    assert client.post(page_url(awaiting_manager, "comments/"), {"body": "Hi"}).status_code == 404
    assert client.post(page_url(awaiting_manager, f"comments/{comment.pk}/edit/"), {"body": "Hi"}).status_code == 404
    assert client.post(page_url(awaiting_manager, f"threads/{comment.thread_id}/resolve/"), {}).status_code == 404
    assert Comment.objects.get().body == "Internal note." and Comment.objects.count() == 1
