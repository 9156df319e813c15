"""The conversation on a request: threads, replies, @mentions told by e-mail (only people who may
see the model), edits within the window with the earlier text kept, resolve / reopen, nothing
deleted, every write audited; open threads travel to the resubmission that answers the request."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from approvals import conversation, services
from approvals.models import Comment, CommentEdit, Decision, Thread
from audit.models import AuditEvent
from tests import factories


@pytest.fixture
def outbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    return mail.outbox


def post(background, request, actor, body, thread=None):
    with background():
        return conversation.comment_post(request=request, actor=actor, body=body, thread=thread)


def told(outbox) -> dict[str, str]:
    return {message.to[0]: message.subject for message in outbox if "[Signoff]" in message.subject}


def test_a_reviewer_asks_the_author_answers_and_each_is_told(people, awaiting_manager, background, outbox):
    question = post(background, awaiting_manager, people.mona, "Why did **recall** drop on the 2024 cohort?")

    assert told(outbox) == {"dana@example.com": "[Signoff] mona commented on credit-risk v1 (request #%d)"
                            % awaiting_manager.pk}  # fmt: skip
    message = outbox[0]
    assert "Why did **recall** drop" in message.body and f"#comment-{question.pk}" in message.body
    html = message.alternatives[0][0]
    assert "<strong>recall</strong>" in html

    outbox.clear()
    answer = post(
        background, awaiting_manager, people.dana, "The cohort is 3% of rows; see the slice.", question.thread
    )
    assert answer.thread == question.thread
    assert told(outbox) == {"mona@example.com": "[Signoff] dana commented on credit-risk v1 (request #%d)"
                            % awaiting_manager.pk}  # fmt: skip
    assert "replied in a conversation" in outbox[0].body
    verbs = list(
        AuditEvent.objects.filter(request=awaiting_manager, verb="comment.posted")
        .order_by("pk")
        .values_list("actor__username", "comment")
    )
    assert verbs == [("mona", question.body), ("dana", answer.body)]
    # A comment is no decision: the step still waits.
    assert not Decision.objects.filter(request=awaiting_manager).exists()


def test_mentions_reach_only_people_who_may_see_the_model(people, awaiting_manager, background, outbox):
    comment = post(
        background, awaiting_manager, people.mona, "@quinn can you check QA data? cc @gina @nobody, thanks @ivan."
    )

    assert sorted(comment.mentioned.values_list("username", flat=True)) == ["ivan", "quinn"]
    subjects = told(outbox)
    assert sorted(subjects) == ["dana@example.com", "ivan@example.com", "quinn@example.com"]
    assert subjects["quinn@example.com"].startswith("[Signoff] mona mentioned you on credit-risk v1")
    assert "gina@example.com" not in subjects  # another team's data scientist may not see the model


def test_an_edit_keeps_the_earlier_text_and_tells_only_the_newly_mentioned(
    people, awaiting_manager, background, outbox
):
    comment = post(background, awaiting_manager, people.mona, "Looks fine to me.")
    outbox.clear()
    with background():
        conversation.comment_edit(comment=comment, actor=people.mona, body="Looks fine to me; @quinn please confirm.")

    comment.refresh_from_db()
    assert comment.body == "Looks fine to me; @quinn please confirm." and comment.edited_at is not None
    assert list(CommentEdit.objects.filter(comment=comment).values_list("body", flat=True)) == ["Looks fine to me."]
    assert sorted(told(outbox)) == ["quinn@example.com"]
    edited = AuditEvent.objects.get(verb="comment.edited")
    assert edited.data["before"] == "Looks fine to me." and edited.actor == people.mona


def test_only_the_author_edits_and_only_within_the_window(people, awaiting_manager, background, settings):
    comment = post(background, awaiting_manager, people.mona, "First thought.")
    with pytest.raises(PermissionDenied, match="Only its author"):
        conversation.comment_edit(comment=comment, actor=people.mike, body="Changed by someone else.")
    Comment.objects.filter(pk=comment.pk).update(
        created_at=timezone.now() - timedelta(minutes=settings.SIGNOFF_COMMENT_EDIT_MINUTES + 1)
    )
    comment.refresh_from_db()
    with pytest.raises(PermissionDenied, match="can be edited for 15 minutes"):
        conversation.comment_edit(comment=comment, actor=people.mona, body="Too late.")
    comment.refresh_from_db()
    assert comment.body == "First thought." and not CommentEdit.objects.exists()


@pytest.mark.parametrize(
    ("body", "problem"),
    [("", "Write something"), ("  \n ", "Write something"), ("x" * 20_001, "under 20,000"),
     ("nul\x00", "NUL"), ("\ud800", "lone surrogate"), (" ".join(f"@user{i}" for i in range(21)), "at most 20")],
)  # fmt: skip
def test_unusable_text_is_refused_and_writes_nothing(people, awaiting_manager, background, body, problem):
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError, match=problem):
        post(background, awaiting_manager, people.mona, body)
    assert not Thread.objects.exists() and not Comment.objects.exists() and AuditEvent.objects.count() == events


def test_people_without_access_to_the_model_cannot_comment(people, awaiting_manager, background):
    with pytest.raises(PermissionDenied, match="do not have access"):
        post(background, awaiting_manager, people.gina, "Drive-by remark.")
    assert not Comment.objects.exists()


def test_a_reply_goes_only_into_a_thread_the_request_shows(people, awaiting_manager, growth_model, background):
    other = services.promotion_request_submit(
        version=factories.make_version(model=growth_model, by=people.gina), actor=people.gina
    )
    elsewhere = post(background, other, people.gary, "About the growth model.")
    with pytest.raises(ValidationError, match="no such thread"):
        post(background, awaiting_manager, people.mona, "Sneaking in.", elsewhere.thread)
    assert elsewhere.thread.comments.count() == 1


def test_resolving_belongs_to_who_started_the_thread_or_the_author(people, awaiting_manager, background):
    thread = post(background, awaiting_manager, people.mona, "Please document the cut-off.").thread
    with pytest.raises(PermissionDenied, match="Only the person who started"):
        conversation.thread_set_resolved(thread=thread, actor=people.mike, resolved=True, request=awaiting_manager)
    conversation.thread_set_resolved(thread=thread, actor=people.dana, resolved=True, request=awaiting_manager)
    thread.refresh_from_db()
    assert thread.resolved_by == people.dana and thread.is_resolved
    conversation.thread_set_resolved(thread=thread, actor=people.mona, resolved=False, request=awaiting_manager)
    thread.refresh_from_db()
    assert not thread.is_resolved
    verbs = list(
        AuditEvent.objects.filter(verb__startswith="thread.").order_by("pk").values_list("verb", "actor__username")
    )
    assert verbs == [("thread.resolved", "dana"), ("thread.reopened", "mona")]


def test_open_threads_travel_to_the_resubmission(people, awaiting_manager, background, risk_model):
    open_thread = post(background, awaiting_manager, people.mona, "Recall on the 2024 cohort?").thread
    settled = post(background, awaiting_manager, people.mona, "Typo in the card.").thread
    conversation.thread_set_resolved(thread=settled, actor=people.dana, resolved=True, request=awaiting_manager)
    with background():
        services.step_decide(
            request=awaiting_manager, actor=people.mona, verdict=Decision.Verdict.REQUEST_CHANGES,
            comment="See the thread.", production_seen=services.UNCHECKED,
        )  # fmt: skip
        fixed = factories.make_version(model=risk_model, by=people.dana, derived_from=awaiting_manager.version)
        answer = services.promotion_request_submit(version=fixed, actor=people.dana)

    assert answer.resubmission_of == awaiting_manager
    assert list(answer.threads.all()) == [open_thread]
    reply = post(background, answer, people.dana, "Fixed in v2: recall is back.", open_thread)
    assert reply.request == answer and list(awaiting_manager.threads.all()) == [open_thread, settled]
