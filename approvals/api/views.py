"""Approvals endpoints: submit, requests, decisions, rollback.

Views parse input, call one service, and render; refusals come back as 403 / 404 (not
allowed or not visible), 409 (wrong state) or 400 (bad input) through config.api.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from accounts.models import Scope
from accounts.scopes import token_allows
from approvals import selectors, services
from approvals.api.serializers import (
    ClaimInputSerializer,
    DecisionInputSerializer,
    DecisionOutputSerializer,
    RequestDetailOutputSerializer,
    RequestFilterSerializer,
    RequestOutputSerializer,
    RollbackInputSerializer,
    StepOutputSerializer,
    WithdrawInputSerializer,
    request_rows,
)
from approvals.models import StepState
from approvals.views.requests import steps_to_decide
from config.api import REFUSALS
from config.pagination import CappedPageNumberPagination
from evidence import comparison
from evidence.comparison import SelectionError, parse_selection
from registry import selectors as registry_selectors
from registry.api.serializers import VersionOutputSerializer


class VersionSubmitView(generics.GenericAPIView):
    token_scope = Scope.SUBMIT
    serializer_class = RequestOutputSerializer

    @extend_schema(
        request=None, responses={201: RequestOutputSerializer, **REFUSALS}, summary="Submit a version for approval"
    )
    def post(self, request, name, number):
        version = registry_selectors.version_get(user=request.user, name=name, number=number)
        created = services.promotion_request_submit(version=version, actor=request.user)
        created = selectors.request_list(user=request.user).get(pk=created.pk)
        return Response(RequestOutputSerializer(created).data, status=status.HTTP_201_CREATED)


class RequestListView(generics.GenericAPIView):
    serializer_class = RequestOutputSerializer
    pagination_class = CappedPageNumberPagination

    @extend_schema(
        parameters=[RequestFilterSerializer],
        responses={200: RequestOutputSerializer(many=True), 400: None},
        operation_id="requests_list",
        summary="Promotion requests you can see",
    )
    def get(self, request):
        filters = RequestFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = selectors.request_rows(
            user=request.user,
            status=filters.validated_data.get("status"),
            awaiting_me=filters.validated_data.get("awaiting") == "me",
            model_name=filters.validated_data.get("model"),
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(request_rows(page))


class RequestDetailView(generics.GenericAPIView):
    serializer_class = RequestDetailOutputSerializer

    @extend_schema(summary="One request with its steps, checks and decisions")
    def get(self, request, pk):
        return Response(RequestDetailOutputSerializer(selectors.request_get(user=request.user, pk=pk)).data)


class DecisionCreateView(generics.GenericAPIView):
    serializer_class = DecisionOutputSerializer
    token_scope = Scope.DECIDE

    @extend_schema(
        request=DecisionInputSerializer,
        responses={201: DecisionOutputSerializer, **REFUSALS},
        summary="Approve, reject or request changes on the current step",
    )
    def post(self, request, pk):
        promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
        data = DecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        step = None
        if "step" in data.validated_data:
            step = selectors.request_step(promotion_request, data.validated_data["step"])
            if step is None:
                raise ValidationError({"step": f"Request #{pk} has no step called {data.validated_data['step']!r}."})
        deciding = step or promotion_request.current_step
        if (
            deciding is not None
            and deciding.kind == StepState.Kind.DEPLOYMENT
            and not token_allows(request, Scope.DEPLOY)
        ):
            raise PermissionDenied("This API token lacks the 'deploy' scope; create one with it on your profile page.")
        # Without it, the deployment is not compared with what the caller saw.
        production_seen = data.validated_data.get("production_version", services.UNCHECKED)
        decision = services.step_decide(
            request=promotion_request,
            actor=request.user,
            step=step,
            verdict=data.validated_data["decision"],
            comment=data.validated_data["comment"],
            production_seen=production_seen,
            evidence_seen=data.validated_data.get("evidence_digest", ""),
        )
        return Response(DecisionOutputSerializer(decision).data, status=status.HTTP_201_CREATED)


class _ClaimView(generics.GenericAPIView):
    serializer_class = StepOutputSerializer
    token_scope = Scope.DECIDE
    service = None

    def post(self, request, pk):
        promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
        data = ClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        name = data.validated_data.get("step")
        if name is None:
            held = [s for s in promotion_request.steps.all() if s.claim_holder == request.user]
            mine = held or steps_to_decide(request.user, promotion_request)
            if len(mine) != 1:
                raise ValidationError({"step": "Name the step: you may decide none or several of this request's."})
            step = mine[0]
        else:
            step = selectors.request_step(promotion_request, name)
            if step is None:
                raise ValidationError({"step": f"Request #{pk} has no step called {name!r}."})
        step = type(self).service(step=step, actor=request.user)
        shown = next(s for s in selectors.request_get(user=request.user, pk=pk).steps.all() if s.pk == step.pk)
        return Response(StepOutputSerializer(shown).data)


class StepClaimView(_ClaimView):
    service = staticmethod(services.step_claim)

    @extend_schema(
        request=ClaimInputSerializer,
        responses={200: StepOutputSerializer, **REFUSALS},
        summary="Say you are reviewing a waiting step (others see it; the claim lapses by itself)",
    )
    def post(self, request, pk):
        return super().post(request, pk)


class StepReleaseView(_ClaimView):
    service = staticmethod(services.step_release)

    @extend_schema(
        request=ClaimInputSerializer,
        responses={200: StepOutputSerializer, **REFUSALS},
        summary="Give up your claim on a step",
    )
    def post(self, request, pk):
        return super().post(request, pk)


class RequestWithdrawView(generics.GenericAPIView):
    serializer_class = RequestDetailOutputSerializer
    token_scope = Scope.SUBMIT

    @extend_schema(
        request=WithdrawInputSerializer,
        responses={200: RequestDetailOutputSerializer, **REFUSALS},
        summary="Withdraw an open request you submitted, saying why (the reviewers are told)",
    )
    def post(self, request, pk):
        promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
        data = WithdrawInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.promotion_request_withdraw(
            request=promotion_request, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(RequestDetailOutputSerializer(selectors.request_get(user=request.user, pk=pk)).data)


class ModelRollbackView(generics.GenericAPIView):
    token_scope = Scope.DEPLOY
    serializer_class = VersionOutputSerializer

    @extend_schema(
        request=RollbackInputSerializer,
        responses={200: VersionOutputSerializer, **REFUSALS},
        summary="Roll back the production version to an earlier one (IT engineers)",
    )
    def post(self, request, name):
        model = registry_selectors.model_get(user=request.user, name=name)
        data = RollbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        restored = services.model_rollback(
            model=model,
            actor=request.user,
            comment=data.validated_data["comment"],
            target=data.validated_data.get("target"),
            production_seen=data.validated_data.get("production_seen", data.validated_data.get("from_version")),
        )
        return Response(VersionOutputSerializer(restored).data)


class VersionEvidenceView(generics.GenericAPIView):
    serializer_class = None

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 404: None},
        summary="What Signoff measured about a version: checks, measured metrics, fairness, schema",
    )
    def get(self, request, name, number):
        version = registry_selectors.version_get(user=request.user, name=name, number=number)
        evidence = selectors.version_evidence(version=version)
        return Response({"model": version.model.name, "version": version.number, **evidence})


class VersionAttestationView(generics.GenericAPIView):
    serializer_class = None

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 404: None},
        summary="The version's signed approval: a DSSE envelope of an in-toto Statement (Ed25519)",
        description="Verify it offline with `signoff attestation verify` and the key at /attestations/public-key.pem.",
    )
    def get(self, request, name, number):
        version = registry_selectors.version_get(user=request.user, name=name, number=number)
        found = selectors.latest_attestation(version=version)
        if found is None:
            raise NotFound(f"{name} v{number} has no signed approval (it was never deployed).")
        found.refresh_from_db(fields=["envelope"])
        return Response(found.envelope)


class ModelCompareView(generics.GenericAPIView):
    serializer_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter("v", int, many=True, description="2 to 6 version numbers (repeat v, or v=3,5)"),
            OpenApiParameter("baseline", int, description="Default: the production version, else the oldest chosen"),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: None, 404: None},
        summary="Versions side by side: metrics with deltas and gates, curves, fairness, parameters, lineage",
    )
    def get(self, request, name):
        model = registry_selectors.model_get(user=request.user, name=name)
        try:
            selection = parse_selection(request.query_params.getlist("v"), request.query_params.get("baseline"))
        except SelectionError as error:
            raise ValidationError({"v": [str(error)]}) from None
        return Response(selectors.comparison(model=model, selection=selection))


class RequestEvidenceView(generics.GenericAPIView):
    serializer_class = None

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 404: None},
        summary="The evidence summary a reviewer decides on, and its digest (send it with the decision)",
    )
    def get(self, request, pk):
        promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
        evidence = selectors.request_evidence(request=promotion_request)
        return Response({"request": pk, "evidence": evidence, "evidence_digest": comparison.digest(evidence)})
