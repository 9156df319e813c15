"""AuditEvent now belongs to the audit app; its table, triggers and grants stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("approvals", "0022_notifications_move_to_their_app"), ("audit", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="AuditEvent")], database_operations=[]),
    ]
