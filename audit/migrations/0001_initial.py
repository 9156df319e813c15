"""AuditEvent moves here from the approvals app: its table (approvals_auditevent), indexes and
PostgreSQL guards (append-only triggers, the worker role's grants) stay as they are; only Django's
idea of which app owns it changes."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    # The table was created by the approvals app's migrations.
    dependencies = [
        ("approvals", "0022_notifications_move_to_their_app"),
        ("registry", "0007_immutable_card_and_description"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("verb", models.CharField(db_index=True, max_length=50)),
                        ("object_type", models.CharField(max_length=50)),
                        ("object_id", models.CharField(max_length=50)),
                        ("object_repr", models.CharField(max_length=200)),
                        ("from_state", models.CharField(blank=True, max_length=50)),
                        ("to_state", models.CharField(blank=True, max_length=50)),
                        ("comment", models.TextField(blank=True)),
                        ("data", models.JSONField(blank=True, default=dict)),
                        ("chain", models.PositiveBigIntegerField(default=0, editable=False)),
                        ("previous_digest", models.CharField(blank=True, editable=False, max_length=64)),
                        ("digest", models.CharField(blank=True, editable=False, max_length=64)),
                        ("actor", models.ForeignKey(blank=True, help_text="Empty for the system (a worker).", null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("model", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="registry.registeredmodel")),
                        ("request", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="audit_events", to="approvals.promotionrequest")),
                    ],
                    options={
                        "db_table": "approvals_auditevent",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(fields=["model", "-created_at"], name="audit_model_idx"),
                            models.Index(fields=["actor", "-created_at"], name="audit_actor_idx"),
                            models.Index(fields=["request", "created_at"], name="audit_request_idx"),
                            models.Index(fields=["chain", "-id"], name="audit_chain_idx"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
