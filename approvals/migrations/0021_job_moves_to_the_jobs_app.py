"""The Job model now belongs to the jobs app (jobs/migrations/0001_initial.py); its table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("approvals", "0020_workflows_as_rows"), ("jobs", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Job")], database_operations=[]),
    ]
