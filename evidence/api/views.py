"""Evidence endpoints: a model's evaluation datasets (list, upload, poll)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from config.api import REFUSALS
from evidence import datasets, selectors
from evidence.api.serializers import DatasetInputSerializer, DatasetOutputSerializer
from registry import selectors as registry_selectors


class DatasetListView(generics.GenericAPIView):
    serializer_class = DatasetOutputSerializer

    @extend_schema(
        responses={200: DatasetOutputSerializer(many=True), 404: None}, summary="A model's evaluation datasets"
    )
    def get(self, request, name):
        model = registry_selectors.model_get(user=request.user, name=name)
        page = self.paginate_queryset(selectors.dataset_list(model=model))
        return self.get_paginated_response(DatasetOutputSerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": DatasetInputSerializer},
        responses={202: DatasetOutputSerializer, 429: None, **REFUSALS},
        summary="Upload an evaluation dataset (multipart); the worker reads it in the sandbox: poll its url",
    )
    def post(self, request, name):
        model = registry_selectors.model_get(user=request.user, name=name)
        data = DatasetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = datasets.evaluation_dataset_register(model=model, actor=request.user, **data.validated_data)
        body = DatasetOutputSerializer(dataset).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class DatasetDetailView(generics.GenericAPIView):
    serializer_class = DatasetOutputSerializer

    @extend_schema(
        responses={200: DatasetOutputSerializer, 404: None},
        summary="An evaluation dataset: status profiling, then ready (rows, columns) or refused (problem)",
    )
    def get(self, request, name, dataset):
        model = registry_selectors.model_get(user=request.user, name=name)
        return Response(DatasetOutputSerializer(selectors.dataset_get(model=model, name=dataset)).data)
