"""Registry endpoints: models and their versions. Views parse, call a service, and render."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from registry import selectors, services
from registry.api.parsers import SafeJSONParser
from registry.api.serializers import (
    ModelCardInputSerializer,
    ModelInputSerializer,
    ModelOutputSerializer,
    VersionInputSerializer,
    VersionOutputSerializer,
)
from registry.downloads import artifact_response


class ModelListCreateView(generics.GenericAPIView):
    serializer_class = ModelOutputSerializer
    parser_classes = [SafeJSONParser, MultiPartParser]

    def get_queryset(self):
        return selectors.model_list(user=self.request.user)

    @extend_schema(responses=ModelOutputSerializer(many=True), operation_id="models_list", summary="Models you can see")
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ModelOutputSerializer(page, many=True).data)

    @extend_schema(request=ModelInputSerializer, responses={201: ModelOutputSerializer}, summary="Register a model")
    def post(self, request):
        data = ModelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.registered_model_create(created_by=request.user, **data.validated_data)
        return Response(ModelOutputSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetailView(generics.GenericAPIView):
    serializer_class = ModelOutputSerializer

    @extend_schema(summary="One model")
    def get(self, request, name):
        model = selectors.model_list(user=request.user).filter(name=name).first()
        if model is None:
            raise Http404(f"No model called {name!r}.")
        return Response(ModelOutputSerializer(model).data)


class VersionListCreateView(generics.GenericAPIView):
    serializer_class = VersionOutputSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        return selectors.version_list(model=selectors.model_get(user=self.request.user, name=self.kwargs["name"]))

    @extend_schema(
        responses=VersionOutputSerializer(many=True),
        operation_id="models_versions_list",
        summary="Versions of a model, newest first",
    )
    def get(self, request, name):
        page = self.paginate_queryset(self.get_queryset().select_related("model", "derived_from"))
        return self.get_paginated_response(VersionOutputSerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": VersionInputSerializer},
        responses={201: VersionOutputSerializer},
        summary="Register a new version (multipart upload)",
    )
    def post(self, request, name):
        model = selectors.model_get(user=request.user, name=name)
        data = VersionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        lineage = fields.pop("lineage")
        if "derived_from" in fields:
            number = fields.pop("derived_from")
            fields["derived_from"] = model.versions.filter(number=number).first()
            if fields["derived_from"] is None:
                raise ValidationError({"derived_from": f"{name} has no version {number} to fix."})
        version = services.model_version_create(model=model, created_by=request.user, **fields, **lineage)
        return Response(VersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionDetailView(generics.GenericAPIView):
    serializer_class = VersionOutputSerializer

    @extend_schema(summary="One version")
    def get(self, request, name, number):
        version = selectors.version_get(user=request.user, name=name, number=number)
        return Response(VersionOutputSerializer(version).data)

    @extend_schema(
        request=ModelCardInputSerializer,
        responses={200: VersionOutputSerializer, 400: None, 403: None, 404: None},
        summary="Replace the model card of a version not yet submitted",
    )
    def patch(self, request, name, number):
        version = selectors.version_get(user=request.user, name=name, number=number)
        data = ModelCardInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.model_version_card_update(
            version=version, model_card=data.validated_data["model_card"], actor=request.user
        )
        return Response(VersionOutputSerializer(version).data)


class VersionArtifactView(generics.GenericAPIView):
    serializer_class = None

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: None},
        summary="Download a version's artifact (an attachment; audited)",
    )
    def get(self, request, name, number):
        version = selectors.version_get(user=request.user, name=name, number=number)
        return artifact_response(version=version, actor=request.user)
