"""Input and output serializers of the registry API, one pair per endpoint."""

from django.core.exceptions import ValidationError
from rest_framework import serializers

from registry import model_cards
from registry.models import ModelVersion, RegisteredModel, Team
from registry.validation import parse_json

LINEAGE_KEYS = ("dataset_uri", "dataset_version", "code_repository", "code_commit")


class SafeJSONField(serializers.JSONField):
    """A multipart field holding JSON text, parsed with the registry's bounds (``parse_json``)."""

    def to_internal_value(self, data):
        if hasattr(data, "read"):
            data = data.read()
        if isinstance(data, str | bytes):
            try:
                return parse_json(data, what=f"'{self.field_name}'")
            except ValidationError as error:
                raise serializers.ValidationError(error.messages) from None
        return super().to_internal_value(data)


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that refuses keys it does not know, naming them (a misspelt
    ``coment`` is an error, not a comment silently dropped)."""

    IGNORED = frozenset({"csrfmiddlewaretoken"})

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(str(key) for key in data.keys() if key not in self.fields and key not in self.IGNORED)
            if unknown:
                listed = ", ".join(repr(key[:100]) for key in unknown[:10])
                raise serializers.ValidationError(
                    {"non_field_errors": [f"Unknown field(s) {listed}; this endpoint takes {', '.join(self.fields)}."]}
                )
        return super().to_internal_value(data)


class ModelInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())


class ModelOutputSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    version_count = serializers.IntegerField(read_only=True, required=False)
    latest_version = serializers.IntegerField(read_only=True, required=False, allow_null=True)
    production_version = serializers.IntegerField(read_only=True, required=False, allow_null=True)

    class Meta:
        model = RegisteredModel
        fields = [
            "name",
            "description",
            "team",
            "created_by",
            "created_at",
            "version_count",
            "latest_version",
            "production_version",
        ]


class VersionInputSerializer(StrictInputSerializer):
    """Multipart fields: the artifact file, and metrics / params / lineage as JSON text."""

    artifact = serializers.FileField(max_length=None, allow_empty_file=True)
    metrics = SafeJSONField(help_text='JSON object of name → number, e.g. {"accuracy": 0.91}')
    params = SafeJSONField(required=False, default=dict, help_text="JSON object of hyperparameters.")
    lineage = SafeJSONField(
        required=False,
        default=dict,
        help_text=f"JSON object with any of: {', '.join(LINEAGE_KEYS)}.",
    )
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    model_card = SafeJSONField(
        required=False,
        default=dict,
        help_text=f"JSON object with any of: {', '.join(sorted(model_cards.KEYS))} (Markdown text; "
        f"risk_tier is one of {', '.join(model_cards.RISK_TIERS)}).",
    )

    derived_from = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31, help_text="The number of the version this one fixes."
    )

    def validate_lineage(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Lineage must be a JSON object.")
        unknown = set(value) - set(LINEAGE_KEYS)
        if unknown:
            raise serializers.ValidationError(
                f"Unknown lineage keys: {', '.join(sorted(unknown))}. Allowed: {', '.join(LINEAGE_KEYS)}."
            )
        for key, text in value.items():
            if not isinstance(text, str) or len(text) > 500:
                raise serializers.ValidationError(f"'{key}' must be a string of at most 500 characters.")
        return value


class VersionOutputSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    artifact_name = serializers.SerializerMethodField()
    lineage = serializers.DictField(child=serializers.CharField(), read_only=True)
    derived_from = serializers.IntegerField(
        source="derived_from.number", allow_null=True, default=None, read_only=True,
        help_text="The version this one fixes, if any.",
    )  # fmt: skip

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "number",
            "description",
            "stage",
            "artifact_name",
            "artifact_sha256",
            "artifact_size",
            "metrics",
            "params",
            "lineage",
            "derived_from",
            "model_card",
            "created_by",
            "created_at",
            "submitted_at",
            "stage_changed_at",
            "emergency_release",
        ]

    def get_artifact_name(self, version) -> str:
        return version.artifact.name.rsplit("/", 1)[-1]


class ModelCardInputSerializer(StrictInputSerializer):
    model_card = SafeJSONField(
        help_text="The whole card: JSON object of field → Markdown text; it replaces the old one."
    )
