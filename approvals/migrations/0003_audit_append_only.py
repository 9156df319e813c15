"""On PostgreSQL, refuse UPDATE and DELETE of audit events from any client."""

from django.db import migrations

from config.db import postgresql_only

FORWARD = """
CREATE OR REPLACE FUNCTION signoff_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER approvals_auditevent_append_only
    BEFORE UPDATE OR DELETE ON approvals_auditevent
    FOR EACH ROW EXECUTE FUNCTION signoff_audit_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS approvals_auditevent_append_only ON approvals_auditevent;
DROP FUNCTION IF EXISTS signoff_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("approvals", "0002_initial")]
    operations = [postgresql_only(FORWARD, BACKWARD)]
