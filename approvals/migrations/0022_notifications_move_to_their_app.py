"""Notification and NotificationDelivery now belong to the notifications app; their tables stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("approvals", "0021_job_moves_to_the_jobs_app"), ("notifications", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="notificationdelivery", name="notification"),
                migrations.RemoveField(model_name="notificationdelivery", name="user"),
                migrations.DeleteModel(name="Notification"),
                migrations.DeleteModel(name="NotificationDelivery"),
            ],
            database_operations=[],
        ),
    ]
