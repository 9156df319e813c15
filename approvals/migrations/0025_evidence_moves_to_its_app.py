"""Evaluation datasets and measurements now belong to the evidence app
(evidence/migrations/0001_initial.py); their tables stay."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("approvals", "0024_step_active_index"), ("evidence", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="promotionrequest",
                    name="dataset",
                    field=models.ForeignKey(
                        blank=True,
                        help_text="The evidence the checks use, fixed at submission: the latest dataset no author registered.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="evidence.evaluationdataset",
                    ),
                ),
                migrations.DeleteModel(name="Measurement"),
                migrations.DeleteModel(name="EvaluationDataset"),
            ],
            database_operations=[],
        ),
    ]
