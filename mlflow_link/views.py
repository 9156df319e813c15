"""MLflow on Signoff's pages and at its door: the model page's MLflow panel (connection, imports,
drift incidents), MLflow's signed ``model_version.created`` webhook, and the API to connect."""

import json

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from config.api import REFUSALS
from mlflow_link import services
from mlflow_link.models import DriftIncident, MlflowConnection, MlflowVersion
from registry import selectors as registry_selectors
from registry.api.serializers import StrictInputSerializer


def version_page_part(request, version) -> dict:
    return {"mlflow_source": MlflowVersion.objects.filter(version=version).select_related("connection").first()}


def model_page_part(request, model) -> dict:
    connection = MlflowConnection.objects.filter(model=model).first()
    if connection is None:
        return {"mlflow": None}
    incidents = list(DriftIncident.objects.filter(connection=connection).order_by("-found_at")[:5])
    return {
        "mlflow": connection,
        "mlflow_open_incidents": [incident for incident in incidents if incident.resolved_at is None],
        "mlflow_incidents": incidents,
        "mlflow_imported": connection.versions.count(),
    }


@csrf_exempt
@require_POST
def mlflow_webhook(request, connection_id):
    """MLflow's ``model_version.created`` (signed with the connection's secret): import now.
    Anything unsigned, stale or for another model is refused and changes nothing."""
    connection = MlflowConnection.objects.filter(pk=connection_id, active=True).first()
    verified = connection is not None and services.mlflow_webhook_verify(
        connection=connection,
        body=request.body,
        delivery_id=request.headers.get("X-MLflow-Delivery-Id", ""),
        timestamp=request.headers.get("X-MLflow-Timestamp", ""),
        signature=request.headers.get("X-MLflow-Signature", ""),
    )
    if not verified:
        return JsonResponse({"detail": "The signature does not verify (or is older than five minutes)."}, status=401)
    try:
        event = json.loads(request.body)
    except (ValueError, RecursionError):
        return JsonResponse({"detail": "The body is not JSON."}, status=400)
    if not isinstance(event, dict) or (event.get("entity"), event.get("action")) != ("model_version", "created"):
        return JsonResponse({"detail": "Only model_version.created is taken here."}, status=202)
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if data.get("name") != connection.registered_model:
        return JsonResponse({"detail": f"This endpoint follows {connection.registered_model} only."}, status=400)
    services.mlflow_import_soon(connection=connection)
    return HttpResponse(status=202)


class ConnectionInputSerializer(StrictInputSerializer):
    tracking_uri = serializers.CharField(max_length=2000)
    registered_model = serializers.CharField(max_length=256)
    alias = serializers.CharField(max_length=100, default="champion")
    revert_drift = serializers.BooleanField(default=False)


class ConnectionOutputSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")

    class Meta:
        model = MlflowConnection
        fields = ["id", "model", "tracking_uri", "registered_model", "alias", "revert_drift", "active",
                  "last_import_at", "last_import_error", "last_checked_at"]  # fmt: skip


class ModelMlflowView(generics.GenericAPIView):
    serializer_class = ConnectionOutputSerializer

    @extend_schema(responses={200: ConnectionOutputSerializer, 404: None}, summary="The model's MLflow connection")
    def get(self, request, name):
        model = registry_selectors.model_get(user=request.user, name=name)
        connection = MlflowConnection.objects.filter(model=model).first()
        if connection is None:
            return Response({"detail": f"{name} is not connected to MLflow."}, status=status.HTTP_404_NOT_FOUND)
        return Response(ConnectionOutputSerializer(connection).data)

    @extend_schema(
        request=ConnectionInputSerializer,
        responses={201: ConnectionOutputSerializer, **REFUSALS},
        summary="Connect the model to an MLflow registered model (administrators); the webhook secret is shown once",
    )
    def post(self, request, name):
        if not request.user.is_superuser:
            raise PermissionDenied("Only administrators connect models to MLflow.")
        model = registry_selectors.model_get(user=request.user, name=name)
        data = ConnectionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        connection, secret = services.mlflow_connect(model=model, actor=request.user, **data.validated_data)
        body = ConnectionOutputSerializer(connection).data
        body["webhook_url"] = request.build_absolute_uri(f"/mlflow/webhooks/{connection.pk}/")
        body["webhook_secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)
