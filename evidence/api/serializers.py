"""Input and output serializers of the evidence API: evaluation datasets."""

from django.urls import reverse
from rest_framework import serializers

from evidence.models import EvaluationDataset
from registry.api.serializers import SafeJSONField, StrictInputSerializer


class DatasetInputSerializer(StrictInputSerializer):
    file = serializers.FileField(help_text="CSV (UTF-8, header row) or Parquet.")
    name = serializers.SlugField(max_length=100)
    target_column = serializers.CharField(max_length=200)
    sensitive_columns = SafeJSONField(
        required=False, default=list, help_text='JSON list of column names, e.g. ["age_band", "region"].'
    )
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class DatasetOutputSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    created_by = serializers.CharField(source="created_by.username")
    url = serializers.SerializerMethodField(help_text="Where to poll until status is ready or refused.")

    class Meta:
        model = EvaluationDataset
        fields = [
            "name", "model", "status", "problem", "description", "format", "sha256", "size", "row_count", "columns",
            "target_column", "sensitive_columns", "created_by", "created_at", "profiled_at", "url",
        ]  # fmt: skip

    def get_url(self, dataset) -> str:
        return reverse("api-dataset-detail", args=[dataset.model.name, dataset.name])
