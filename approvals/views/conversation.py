"""The conversation on a request page: post a comment or a reply, edit one's own comment in the
edit window, resolve or reopen a thread. Each calls one service (``approvals.conversation``)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from approvals import conversation, selectors
from approvals.forms import CommentEditForm, CommentForm, ResolveForm
from approvals.views.requests import page_again
from config.pages import form_errors_from


@login_required
@require_POST
def comment_post(request, pk):
    promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return page_again(request, promotion_request, comment_form=form)
    thread = None
    if form.cleaned_data["thread"] is not None:
        thread = selectors.thread_get(request=promotion_request, pk=form.cleaned_data["thread"])
    try:
        comment = conversation.comment_post(
            request=promotion_request, actor=request.user, body=form.cleaned_data["body"], thread=thread
        )
    except ValidationError as error:
        form_errors_from(form, error)
        return page_again(request, promotion_request, comment_form=form)
    messages.success(request, "Your reply was posted." if thread else "Your comment was posted.")
    return redirect(comment.get_absolute_url())


@login_required
@require_POST
def comment_edit(request, pk, comment_id):
    promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
    comment = selectors.comment_get(request=promotion_request, pk=comment_id)
    form = CommentEditForm(request.POST)
    form.comment_id = comment.pk
    if form.is_valid():
        try:
            comment = conversation.comment_edit(comment=comment, actor=request.user, body=form.cleaned_data["body"])
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(request, "Your comment was edited; the earlier text is kept.")
            return redirect(f"{promotion_request.get_absolute_url()}#comment-{comment.pk}")
    return page_again(request, promotion_request, edit_form=form)


@login_required
@require_POST
def thread_resolve(request, pk, thread_id):
    promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
    thread = selectors.thread_get(request=promotion_request, pk=thread_id)
    form = ResolveForm(request.POST)
    form.is_valid()  # a checkbox: absent means "reopen"
    resolved = form.cleaned_data.get("resolved", False)
    conversation.thread_set_resolved(thread=thread, actor=request.user, resolved=resolved, request=promotion_request)
    messages.success(request, "The thread is resolved." if resolved else "The thread is open again.")
    return redirect(f"{promotion_request.get_absolute_url()}#thread-{thread.pk}")
