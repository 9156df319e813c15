"""A version released past its waiting reviews (break-glass) is flagged. On SQLite, adding the
column rebuilds the table, which drops its immutability guard: it is created again."""

from importlib import import_module

from django.db import migrations, models

from config.db import sqlite_only

SQLITE_VERSION_IMMUTABLE = import_module("registry.migrations.0007_immutable_card_and_description").SQLITE


class Migration(migrations.Migration):
    dependencies = [("registry", "0007_immutable_card_and_description")]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="emergency_release",
            field=models.BooleanField(
                default=False,
                help_text="Released past its waiting reviews (break-glass); shown wherever the version is.",
            ),
        ),
        sqlite_only(
            ["DROP TRIGGER IF EXISTS registry_modelversion_immutable", SQLITE_VERSION_IMMUTABLE],
            ["DROP TRIGGER IF EXISTS registry_modelversion_immutable", SQLITE_VERSION_IMMUTABLE],
        ),
    ]
