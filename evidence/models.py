"""Evidence: the evaluation datasets of a model and what Signoff measured of its versions on
them. The checks (``evidence.checks``) read them; the sandbox (``evidence.sandbox``) is where
the bytes are opened. Imports no workflow code: the engine (``approvals``) assembles a
``CheckInput`` and stores the ``CheckOutcome``."""

import uuid

from django.conf import settings
from django.db import models

from registry.models import ModelVersion, RegisteredModel


class JobKind(models.TextChoices):
    """This app's kinds of background work (``jobs.runner``), registered in ``apps.ready``."""

    PROFILE_DATASET = "profile_dataset", "Read an uploaded dataset"


def dataset_upload_to(instance: "EvaluationDataset", filename: str) -> str:
    return f"datasets/{instance.model.name}/{uuid.uuid4().hex}-{filename}"


class EvaluationDataset(models.Model):
    """A hold-out dataset of a model, on which checks re-measure its versions in the sandbox.

    Uploaded, then read by the worker in the sandbox (``profiling``) and either ``ready`` with its
    rows and columns, or ``refused`` saying why (its bytes deleted, its name free again). Only a
    ready dataset is evidence. Immutable once read: no way to change or delete one through
    Signoff (a new name instead)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        PARQUET = "parquet", "Parquet"

    class Status(models.TextChoices):
        PROFILING = "profiling", "Being read"
        READY = "ready", "Ready"
        REFUSED = "refused", "Refused"

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="datasets")
    name = models.SlugField(max_length=100)
    description = models.TextField(blank=True)
    file = models.FileField(upload_to=dataset_upload_to, max_length=300)
    format = models.CharField(max_length=10, choices=Format.choices)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    row_count = models.PositiveIntegerField(null=True, blank=True)
    columns = models.JSONField(default=list, help_text="[{name, dtype}] as read from the file.")
    target_column = models.CharField(max_length=200)
    sensitive_columns = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROFILING)
    problem = models.TextField(blank=True, help_text="Why the file was refused.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    profiled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "approvals_evaluationdataset"  # created by the approvals app, which held it first
        ordering = ["-created_at"]
        constraints = [
            # A refused upload leaves its record but frees its name for the corrected file.
            models.UniqueConstraint(
                fields=["model", "name"], condition=~models.Q(status="refused"), name="dataset_name_unique_per_model"
            )
        ]
        indexes = [
            models.Index(fields=["model", "status", "-created_at"], name="dataset_model_status_idx"),
            models.Index(fields=["created_by", "status"], name="dataset_uploader_status_idx"),
        ]

    def __str__(self):
        return f"{self.model.name} / {self.name}"


class Measurement(models.Model):
    """What Signoff measured of a version on one of its model's evaluation datasets, in the
    sandbox: the metrics (apart from the ones the author reported), the confusion matrix, the
    ROC and PR curve points and the calibration bins. Written once per version and dataset;
    the checks that need the figures share it."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="measurements")
    dataset = models.ForeignKey(EvaluationDataset, on_delete=models.PROTECT, related_name="measurements")
    task = models.CharField(max_length=20)  # classification or regression
    metrics = models.JSONField(default=dict)
    details = models.JSONField(default=dict, help_text="confusion_matrix, roc_curve, pr_curve, calibration, rows")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "approvals_measurement"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "dataset"], name="one_measurement_per_version_dataset")
        ]

    def __str__(self):
        return f"{self.version} on {self.dataset.name}"
