"""On PostgreSQL, a human step (approval, deployment) becomes approved or done only when a
decision approving it exists: no process that cannot write decisions (the worker's database
role) can approve a step by updating its row."""

from django.db import migrations

from config.db import postgresql_only

FORWARD = """
CREATE OR REPLACE FUNCTION signoff_step_needs_decision() RETURNS trigger AS $$
BEGIN
    IF NEW.kind IN ('approval', 'deployment') AND NEW.status IN ('approved', 'done')
       AND NEW.status IS DISTINCT FROM OLD.status
       AND NOT EXISTS (SELECT 1 FROM approvals_decision d WHERE d.step_id = NEW.id AND d.verdict = 'approve') THEN
        RAISE EXCEPTION 'step % is a human step: only a decision approves it', NEW.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER approvals_stepstate_needs_decision
    BEFORE UPDATE ON approvals_stepstate
    FOR EACH ROW EXECUTE FUNCTION signoff_step_needs_decision();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS approvals_stepstate_needs_decision ON approvals_stepstate;
DROP FUNCTION IF EXISTS signoff_step_needs_decision();
"""


class Migration(migrations.Migration):
    dependencies = [("approvals", "0015_request_dataset")]
    operations = [postgresql_only(FORWARD, BACKWARD)]
