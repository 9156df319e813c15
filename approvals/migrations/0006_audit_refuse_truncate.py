"""On PostgreSQL, refuse TRUNCATE of audit events too (UPDATE and DELETE are refused by 0003)."""

from django.db import migrations

FORWARD = """
CREATE TRIGGER approvals_auditevent_no_truncate
    BEFORE TRUNCATE ON approvals_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION signoff_audit_append_only();
"""
BACKWARD = "DROP TRIGGER IF EXISTS approvals_auditevent_no_truncate ON approvals_auditevent;"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("approvals", "0005_request_submitted_index")]
    operations = [migrations.RunPython(forward, backward)]
