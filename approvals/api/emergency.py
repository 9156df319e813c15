"""The emergency release API (break-glass): someone the workflow names asks to release the
version now; a second person agrees or refuses. Each view parses input, calls one service
(``approvals.emergency``), renders."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from accounts.models import Scope
from approvals import emergency, selectors
from approvals.api.serializers import (
    EmergencyDecisionInputSerializer,
    EmergencyOutputSerializer,
    EmergencyRequestInputSerializer,
)
from config.api import REFUSALS


class EmergencyRequestView(generics.GenericAPIView):
    serializer_class = EmergencyOutputSerializer
    token_scope = Scope.DECIDE

    @extend_schema(
        request=EmergencyRequestInputSerializer,
        responses={201: EmergencyOutputSerializer, **REFUSALS},
        summary="Ask for an emergency release past the waiting reviews (break-glass; a second person agrees)",
        operation_id="requests_emergency_ask",
    )
    def post(self, request, pk):
        promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
        data = EmergencyRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        asked = emergency.emergency_request(
            request=promotion_request, actor=request.user, justification=data.validated_data["justification"]
        )
        return Response(EmergencyOutputSerializer(asked).data, status=status.HTTP_201_CREATED)


class EmergencyDecideView(generics.GenericAPIView):
    serializer_class = EmergencyOutputSerializer
    token_scope = Scope.DECIDE

    @extend_schema(
        request=EmergencyDecisionInputSerializer,
        responses={200: EmergencyOutputSerializer, **REFUSALS},
        summary="Agree to an emergency release (it is released) or refuse it (say why)",
        operation_id="requests_emergency_decide",
    )
    def post(self, request, pk, emergency_id):
        promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
        asked = selectors.emergency_get(request=promotion_request, pk=emergency_id)
        data = EmergencyDecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = emergency.emergency_decide(
            emergency=asked,
            actor=request.user,
            release=data.validated_data["release"],
            comment=data.validated_data["comment"],
        )
        return Response(EmergencyOutputSerializer(decided).data)
