"""Notification and NotificationDelivery move here from the approvals app: their tables
(approvals_notification, approvals_notificationdelivery) stay as they are; only Django's idea of
which app owns them changes."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    # The tables were created by the approvals app's migrations.
    dependencies = [
        ("approvals", "0021_job_moves_to_the_jobs_app"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("event", models.CharField(choices=[("review_requested", "Review requested"), ("decision", "Decision made"), ("checks_failed", "Checks failed"), ("deployed", "Deployed"), ("rolled_back", "Rolled back")], max_length=30)),
                        ("status", models.CharField(choices=[("pending", "Pending"), ("sending", "Sending"), ("sent", "Sent"), ("failed", "Failed")], db_index=True, default="pending", max_length=20)),
                        ("recipients", models.JSONField(blank=True, default=list)),
                        ("error", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("actor", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("decision", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="approvals.decision")),
                        ("request", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="notifications", to="approvals.promotionrequest")),
                        ("step", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="approvals.stepstate")),
                    ],
                    options={"db_table": "approvals_notification", "ordering": ["-created_at"]},
                ),
                migrations.CreateModel(
                    name="NotificationDelivery",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("email", models.EmailField(max_length=254)),
                        ("status", models.CharField(choices=[("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")], default="pending", max_length=20)),
                        ("error", models.TextField(blank=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("notification", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="notifications.notification")),
                        ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "approvals_notificationdelivery",
                        "constraints": [models.UniqueConstraint(fields=("notification", "email"), name="one_delivery_per_address")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
