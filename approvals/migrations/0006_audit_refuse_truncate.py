"""On PostgreSQL, refuse TRUNCATE of audit events too (UPDATE and DELETE are refused by 0003)."""

from django.db import migrations

from config.db import postgresql_only

FORWARD = """
CREATE TRIGGER approvals_auditevent_no_truncate
    BEFORE TRUNCATE ON approvals_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION signoff_audit_append_only();
"""
BACKWARD = "DROP TRIGGER IF EXISTS approvals_auditevent_no_truncate ON approvals_auditevent;"


class Migration(migrations.Migration):
    dependencies = [("approvals", "0005_request_submitted_index")]
    operations = [postgresql_only(FORWARD, BACKWARD)]
