"""The waiver API: the author asks that a failed check be waived; a person the workflow names
grants or refuses it. Each view parses input, calls one service (``approvals.waivers``), renders."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from accounts.models import Scope
from approvals import selectors, waivers
from approvals.api.serializers import (
    WaiverDecisionInputSerializer,
    WaiverOutputSerializer,
    WaiverRequestInputSerializer,
)
from config.api import REFUSALS


class WaiverRequestView(generics.GenericAPIView):
    serializer_class = WaiverOutputSerializer
    token_scope = Scope.SUBMIT

    @extend_schema(
        request=WaiverRequestInputSerializer,
        responses={201: WaiverOutputSerializer, **REFUSALS},
        summary="Ask that a failed check not stop your request (the workflow's waivable_by decide)",
        operation_id="requests_waivers_ask",
    )
    def post(self, request, pk):
        promotion_request = selectors.request_get(user=request.user, pk=pk)
        data = WaiverRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = selectors.check_run_get(request=promotion_request, pk=data.validated_data["check_run"])
        waiver = waivers.waiver_request(check_run=run, actor=request.user, reason=data.validated_data["reason"])
        return Response(WaiverOutputSerializer(waiver).data, status=status.HTTP_201_CREATED)


class WaiverDecideView(generics.GenericAPIView):
    serializer_class = WaiverOutputSerializer
    token_scope = Scope.DECIDE

    @extend_schema(
        request=WaiverDecisionInputSerializer,
        responses={200: WaiverOutputSerializer, **REFUSALS},
        summary="Grant or refuse a waiver (a refusal says why)",
        operation_id="requests_waivers_decide",
    )
    def post(self, request, pk, waiver_id):
        promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
        waiver = selectors.waiver_get(request=promotion_request, pk=waiver_id)
        data = WaiverDecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = waivers.waiver_decide(
            waiver=waiver,
            actor=request.user,
            grant=data.validated_data["grant"],
            comment=data.validated_data["comment"],
        )
        return Response(WaiverOutputSerializer(decided).data)
