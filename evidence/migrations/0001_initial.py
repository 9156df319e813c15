"""Evaluation datasets and measurements move here from the approvals app: their tables
(approvals_evaluationdataset, approvals_measurement), indexes and constraints stay as they are;
only Django's idea of which app owns them changes."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import evidence.models


class Migration(migrations.Migration):
    initial = True

    # The tables were created by the approvals app's migrations.
    dependencies = [
        ("approvals", "0024_step_active_index"),
        ("registry", "0007_immutable_card_and_description"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EvaluationDataset",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.SlugField(max_length=100)),
                        ("description", models.TextField(blank=True)),
                        ("file", models.FileField(max_length=300, upload_to=evidence.models.dataset_upload_to)),
                        ("format", models.CharField(choices=[("csv", "CSV"), ("parquet", "Parquet")], max_length=10)),
                        ("sha256", models.CharField(max_length=64)),
                        ("size", models.PositiveBigIntegerField()),
                        ("row_count", models.PositiveIntegerField(blank=True, null=True)),
                        ("columns", models.JSONField(default=list, help_text="[{name, dtype}] as read from the file.")),
                        ("target_column", models.CharField(max_length=200)),
                        ("sensitive_columns", models.JSONField(blank=True, default=list)),
                        ("status", models.CharField(choices=[("profiling", "Being read"), ("ready", "Ready"), ("refused", "Refused")], default="profiling", max_length=20)),
                        ("problem", models.TextField(blank=True, help_text="Why the file was refused.")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("profiled_at", models.DateTimeField(blank=True, null=True)),
                        ("created_by", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("model", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="datasets", to="registry.registeredmodel")),
                    ],
                    options={
                        "db_table": "approvals_evaluationdataset",
                        "ordering": ["-created_at"],
                        "indexes": [
                            models.Index(fields=["model", "status", "-created_at"], name="dataset_model_status_idx"),
                            models.Index(fields=["created_by", "status"], name="dataset_uploader_status_idx"),
                        ],
                        "constraints": [
                            models.UniqueConstraint(condition=models.Q(("status", "refused"), _negated=True), fields=("model", "name"), name="dataset_name_unique_per_model"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="Measurement",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("task", models.CharField(max_length=20)),
                        ("metrics", models.JSONField(default=dict)),
                        ("details", models.JSONField(default=dict, help_text="confusion_matrix, roc_curve, pr_curve, calibration, rows")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("dataset", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="measurements", to="evidence.evaluationdataset")),
                        ("version", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="measurements", to="registry.modelversion")),
                    ],
                    options={
                        "db_table": "approvals_measurement",
                        "ordering": ["-created_at"],
                        "constraints": [
                            models.UniqueConstraint(fields=("version", "dataset"), name="one_measurement_per_version_dataset"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
