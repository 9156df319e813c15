"""SQLite gets the guards PostgreSQL has: audit events are append-only, and a human step becomes
approved or done only with a decision approving it."""

from django.db import migrations

from config.db import SQLITE_AUDIT_GUARDS, sqlite_only

STEP_NEEDS_DECISION = """
CREATE TRIGGER approvals_stepstate_needs_decision BEFORE UPDATE ON approvals_stepstate
WHEN NEW.kind IN ('approval', 'deployment') AND NEW.status IN ('approved', 'done') AND NEW.status IS NOT OLD.status
     AND NOT EXISTS (SELECT 1 FROM approvals_decision d WHERE d.step_id = NEW.id AND d.verdict = 'approve')
BEGIN SELECT RAISE(ABORT, 'a human step: only a decision approves it'); END
"""


class Migration(migrations.Migration):
    dependencies = [("approvals", "0016_human_steps_need_decisions")]
    operations = [
        sqlite_only(
            [*SQLITE_AUDIT_GUARDS.values(), STEP_NEEDS_DECISION],
            [*(f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_AUDIT_GUARDS),
             "DROP TRIGGER IF EXISTS approvals_stepstate_needs_decision"],
        )
    ]
