"""The conversation API: a request's threads, posting and editing comments, resolving threads.
Each view parses input, calls one service (``approvals.conversation``) and renders."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from accounts.models import Scope
from approvals import conversation, selectors
from approvals.api.serializers import (
    CommentEditInputSerializer,
    CommentInputSerializer,
    CommentOutputSerializer,
    ResolveInputSerializer,
    ThreadOutputSerializer,
)
from config.api import REFUSALS


class ThreadListView(generics.ListAPIView):
    """Paginated with DRF's default (a request's threads are few: counting them is cheap)."""

    serializer_class = ThreadOutputSerializer

    @extend_schema(summary="The conversation on a request: its threads (and those it carries), oldest first")
    def get(self, request, pk):
        return super().get(request, pk)

    def get_queryset(self):
        promotion_request = selectors.request_for_decision(user=self.request.user, pk=self.kwargs["pk"])
        return selectors.conversation(request=promotion_request)


class CommentCreateView(generics.GenericAPIView):
    serializer_class = CommentOutputSerializer
    token_scope = Scope.COMMENT

    @extend_schema(
        request=CommentInputSerializer,
        responses={201: CommentOutputSerializer, **REFUSALS},
        summary="Comment on a request (a new thread), or reply in one of its threads",
    )
    def post(self, request, pk):
        promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
        data = CommentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        thread = None
        if "thread" in data.validated_data:
            thread = selectors.thread_get(request=promotion_request, pk=data.validated_data["thread"])
        comment = conversation.comment_post(
            request=promotion_request, actor=request.user, body=data.validated_data["body"], thread=thread
        )
        shown = selectors.comment_get(request=promotion_request, pk=comment.pk)
        return Response(CommentOutputSerializer(shown).data, status=status.HTTP_201_CREATED)


class CommentEditView(generics.GenericAPIView):
    serializer_class = CommentOutputSerializer
    token_scope = Scope.COMMENT

    @extend_schema(
        request=CommentEditInputSerializer,
        responses={200: CommentOutputSerializer, **REFUSALS},
        summary="Correct your comment within the edit window (the earlier text is kept)",
    )
    def patch(self, request, pk, comment_id):
        promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
        comment = selectors.comment_get(request=promotion_request, pk=comment_id)
        data = CommentEditInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation.comment_edit(comment=comment, actor=request.user, body=data.validated_data["body"])
        return Response(CommentOutputSerializer(selectors.comment_get(request=promotion_request, pk=comment.pk)).data)


class ThreadResolveView(generics.GenericAPIView):
    serializer_class = ThreadOutputSerializer
    token_scope = Scope.COMMENT

    @extend_schema(
        request=ResolveInputSerializer,
        responses={200: ThreadOutputSerializer, **REFUSALS},
        summary="Resolve a thread, or open it again (who started it, or an author of the work)",
    )
    def post(self, request, pk, thread_id):
        promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
        thread = selectors.thread_get(request=promotion_request, pk=thread_id)
        data = ResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation.thread_set_resolved(
            thread=thread, actor=request.user, resolved=data.validated_data["resolved"], request=promotion_request
        )
        return Response(
            ThreadOutputSerializer(selectors.conversation(request=promotion_request).get(pk=thread.pk)).data
        )
