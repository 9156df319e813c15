"""Database helpers shared by migrations."""

from django.db import migrations


def postgresql_only(sql: str, reverse_sql: str) -> migrations.RunPython:
    """A migration step that runs ``sql`` (triggers, functions) on PostgreSQL and nothing elsewhere:
    SQLite, the demo's database, has no such guards and needs none for a single laptop user."""

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(reverse_sql, params=None)

    return migrations.RunPython(forward, backward)
