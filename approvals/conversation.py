"""The conversation on a request (services): threads of Markdown comments, replies, @mentions,
edits within a window with the earlier text kept, resolve and unresolve. Nothing is deleted;
every write is audited and announced (``RequestEvent.COMMENTED``: the e-mail to the people in
the thread, the author of the work and whoever is mentioned, if they may see the model).

An open thread travels with the work: a resubmission that answers a request shows that
request's open threads too (``threads_carry``), so the author answers where the review asked.
"""

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from approvals import permissions
from approvals.models import Comment, CommentEdit, PromotionRequest, Thread
from approvals.signals import RequestEvent, announce
from audit.services import audit_record
from registry import permissions as registry_permissions
from registry.validation import clean_text

MAX_BODY = 20_000
MAX_MENTIONS = 20
# "@name": Django usernames are letters, digits and @ . + - _; a trailing dot ends the sentence.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.@+-]{1,150})")


def _clean_body(body) -> str:
    return clean_text(body, field="body", limit=MAX_BODY, required="Write something first.")


def mentioned_people(body: str, request: PromotionRequest) -> list:
    """The people ``@named`` in ``body`` who may see the request's model (others are plain text)."""
    names = {match.rstrip(".") for match in MENTION.findall(body)}
    if not names:
        return []
    if len(names) > MAX_MENTIONS:
        raise ValidationError({"body": f"Mention at most {MAX_MENTIONS} people in one comment."})
    people = registry_permissions.users_who_can(registry_permissions.ACT, request.model)
    return list(people.filter(username__in=names).order_by("username"))


def _refuse_unless(actor, action: str, obj) -> None:
    refusal = permissions.refusal(actor, action, obj)
    if refusal:
        raise PermissionDenied(refusal)


def comment_post(*, request: PromotionRequest, actor, body: str, thread: Thread | None = None) -> Comment:
    """``actor`` starts a thread on ``request``, or replies in ``thread`` (one the request shows)."""
    _refuse_unless(actor, permissions.COMMENT, request)
    body = _clean_body(body)
    mentioned = mentioned_people(body, request)
    with transaction.atomic():
        if thread is None:
            thread = Thread.objects.create(started_on=request, started_by=actor)
            thread.requests.add(request)
        elif not thread.requests.filter(pk=request.pk).exists():
            raise ValidationError({"thread": "This request shows no such thread; reload the page."})
        comment = Comment.objects.create(thread=thread, request=request, author=actor, body=body)
        comment.mentioned.set(mentioned)
        audit_record(
            actor=actor,
            verb="comment.posted",
            obj=comment,
            model=request.model,
            request=request,
            comment=body,
            data={"thread": thread.pk, "mentioned": [person.username for person in mentioned]},
        )
        announce(request, RequestEvent.COMMENTED, actor=actor, comment=comment)
    return comment


def comment_edit(*, comment: Comment, actor, body: str) -> Comment:
    """The author corrects their comment within the edit window; the earlier text is kept. People
    newly mentioned are told; nobody else is told again."""
    _refuse_unless(actor, permissions.EDIT_COMMENT, comment)
    body = _clean_body(body)
    if body == comment.body:
        return comment
    mentioned = mentioned_people(body, comment.request)
    with transaction.atomic():
        comment = Comment.objects.select_for_update().get(pk=comment.pk)
        CommentEdit.objects.create(comment=comment, body=comment.body)
        before, comment.body, comment.edited_at = comment.body, body, timezone.now()
        comment.save(update_fields=["body", "edited_at"])
        comment.mentioned.set(mentioned)
        audit_record(
            actor=actor,
            verb="comment.edited",
            obj=comment,
            model=comment.request.model,
            request=comment.request,
            comment=body,
            data={"thread": comment.thread_id, "before": before, "mentioned": [p.username for p in mentioned]},
        )
        announce(comment.request, RequestEvent.COMMENTED, actor=actor, comment=comment)
    return comment


def thread_set_resolved(*, thread: Thread, actor, resolved: bool, request: PromotionRequest) -> Thread:
    """Mark ``thread`` resolved (the point is settled) or open again, seen from ``request``."""
    _refuse_unless(actor, permissions.RESOLVE, thread)
    with transaction.atomic():
        thread = Thread.objects.select_for_update().get(pk=thread.pk)
        if thread.is_resolved == resolved:
            return thread
        thread.resolved_at, thread.resolved_by = (timezone.now(), actor) if resolved else (None, None)
        thread.save(update_fields=["resolved_at", "resolved_by"])
        audit_record(
            actor=actor,
            verb="thread.resolved" if resolved else "thread.reopened",
            obj=thread,
            model=request.model,
            request=request,
            data={"thread": thread.pk},
        )
    return thread


def threads_carry(*, answered: PromotionRequest, by: PromotionRequest) -> int:
    """Show the open threads of ``answered`` on the request ``by`` that answers it (inside the
    submission's transaction); returns how many."""
    open_threads = list(answered.threads.filter(resolved_at=None).values_list("pk", flat=True))
    Thread.requests.through.objects.bulk_create(
        [Thread.requests.through(thread_id=pk, promotionrequest_id=by.pk) for pk in open_threads],
        ignore_conflicts=True,
    )
    return len(open_threads)
