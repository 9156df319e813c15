"""Database helpers shared by migrations."""

from django.db import migrations


def sqlite_only(statements: list[str], reverse_statements: list[str]) -> migrations.RunPython:
    """A migration step that runs ``statements`` (triggers) on SQLite and nothing elsewhere."""

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in reverse_statements:
                schema_editor.execute(statement, params=None)

    return migrations.RunPython(forward, backward)


# SQLite's guards (the same rules as PostgreSQL's triggers): against the application's own
# writes (an ORM ``.update()``), since anyone who can write the file can drop them. The test
# suite's flush of transactional tests drops and recreates the audit log's (tests/conftest.py).
SQLITE_AUDIT_GUARDS = {
    "approvals_auditevent_no_update": "CREATE TRIGGER approvals_auditevent_no_update BEFORE UPDATE ON "
    "approvals_auditevent BEGIN SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)'); END",
    "approvals_auditevent_no_delete": "CREATE TRIGGER approvals_auditevent_no_delete BEFORE DELETE ON "
    "approvals_auditevent BEGIN SELECT RAISE(ABORT, 'audit events are append-only (DELETE refused)'); END",
}
IMMUTABLE_VERSION_COLUMNS = (
    "artifact", "artifact_sha256", "artifact_size", "metrics", "params", "dataset_uri", "dataset_version",
    "code_repository", "code_commit", "model_id", "number", "submitted_at", "model_card", "description",
    "derived_from_id", "created_by_id",
)  # fmt: skip


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
