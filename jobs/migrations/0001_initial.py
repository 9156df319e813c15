"""The Job model moves here from the approvals app: its table (approvals_job), indexes and
constraint stay as they are; only Django's idea of which app owns it changes."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    # The table was created by the approvals app's migrations.
    dependencies = [("approvals", "0020_workflows_as_rows")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Job",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("kind", models.CharField(help_text="What to do, as registered by an app (e.g. run_check).", max_length=30)),
                        ("target_id", models.PositiveBigIntegerField(help_text="The row the kind works on (a check run, a step, …).")),
                        ("status", models.CharField(choices=[("pending", "Pending"), ("running", "Running"), ("done", "Done"), ("failed", "Failed")], default="pending", max_length=20)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("run_after", models.DateTimeField(default=django.utils.timezone.now)),
                        ("lease_expires_at", models.DateTimeField(blank=True, null=True)),
                        ("last_error", models.TextField(blank=True)),
                        ("log", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("share", models.PositiveBigIntegerField(blank=True, help_text="Whose share of the workers this job takes (a check: its model's team).", null=True)),
                    ],
                    options={
                        "db_table": "approvals_job",
                        "ordering": ["-created_at"],
                        "indexes": [
                            models.Index(fields=["status", "run_after"], name="job_due_idx"),
                            models.Index(fields=["status", "lease_expires_at"], name="job_lease_idx"),
                            models.Index(fields=["kind", "share", "status"], name="job_share_idx"),
                        ],
                        "constraints": [models.UniqueConstraint(fields=("kind", "target_id"), name="one_job_per_unit_of_work")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
