"""A Signoff model connected to an MLflow registered model: the versions imported from it, and
the incidents of its owned alias moved outside Signoff (drift)."""

from django.conf import settings
from django.db import models

from registry.models import ModelVersion, RegisteredModel

IMPORT_MLFLOW = "mlflow_import"  # job: import new MLflow versions of one connection
CHECK_DRIFT = "mlflow_check_drift"  # job: compare the owned alias with Signoff's production version
SYNC_ALIAS = "mlflow_sync_alias"  # job: point the alias at Signoff's production version (after a rollback)
SEND_DRIFT_MAIL = "mlflow_drift_mail"  # job: e-mail a drift incident


class MlflowConnection(models.Model):
    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="mlflow")
    tracking_uri = models.CharField(max_length=2000, help_text="e.g. https://mlflow.example.com")
    registered_model = models.CharField(max_length=256, help_text="The registered model's name in MLflow.")
    alias = models.CharField(max_length=100, default="champion", help_text="The alias Signoff owns.")
    revert_drift = models.BooleanField(
        default=False, help_text="Move the alias back when someone moves it outside Signoff."
    )
    webhook_secret = models.CharField(
        max_length=200, blank=True, editable=False,
        help_text="The secret MLflow signs its model_version.created webhook with (shown once).",
    )  # fmt: skip
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_import_at = models.DateTimeField(null=True, blank=True)
    last_import_error = models.TextField(blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "MLflow connection"
        indexes = [models.Index(fields=["active"], name="mlflow_connection_active_idx")]

    def __str__(self):
        return f"{self.model.name} ↔ MLflow {self.registered_model}@{self.alias}"


class MlflowVersion(models.Model):
    """One MLflow version imported as one Signoff version (its lineage)."""

    connection = models.ForeignKey(MlflowConnection, on_delete=models.CASCADE, related_name="versions")
    mlflow_version = models.PositiveIntegerField()
    version = models.OneToOneField(ModelVersion, on_delete=models.PROTECT, related_name="mlflow")
    run_id = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=2000, blank=True)
    artifact_uri = models.CharField(max_length=2000, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["connection", "mlflow_version"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "mlflow_version"], name="mlflow_version_imported_once")
        ]

    def __str__(self):
        return f"MLflow {self.connection.registered_model} v{self.mlflow_version} → {self.version}"


class DriftIncident(models.Model):
    """The owned alias pointed elsewhere than Signoff's production version."""

    connection = models.ForeignKey(MlflowConnection, on_delete=models.CASCADE, related_name="incidents")
    found_at = models.DateTimeField(auto_now_add=True)
    alias_version = models.CharField(max_length=20, blank=True, help_text="Where the alias pointed (MLflow version).")
    expected_version = models.CharField(max_length=20, blank=True, help_text="Where Signoff says it should point.")
    reverted_at = models.DateTimeField(null=True, blank=True)
    revert_error = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-found_at"]
        indexes = [models.Index(fields=["connection", "resolved_at"], name="drift_open_idx")]

    def __str__(self):
        return (
            f"{self.connection.alias} moved to v{self.alias_version or '—'} (expected v{self.expected_version or '—'})"
        )
