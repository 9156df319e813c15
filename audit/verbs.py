"""The kinds of event the audit log holds: its vocabulary, offered by the log's search. Every
verb a service writes is here (tests/audit/test_verbs.py walks the flows and checks)."""

VERBS = (
    "artifact.downloaded",
    "checks.failed", "checks.passed", "checks.waived",
    "comment.edited", "comment.posted",
    "dataset.refused", "dataset.registered", "dataset.uploaded",
    "decision.approve", "decision.reject", "decision.request_changes",
    "delegation.created", "delegation.revoked",
    "deployment.failed",
    "email.settings_changed",
    "emergency.refused", "emergency.released", "emergency.requested",
    "login.locked_out",
    "model.access_granted", "model.access_revoked", "model.registered", "model.team_changed",
    "policy.met", "policy.not_met",
    "request.changes_requested", "request.checks_failed", "request.completed", "request.failed", "request.rejected",
    "request.reopened", "request.returned_to_step", "request.rolled_back", "request.submitted", "request.withdrawn",
    "step.added", "step.assigned", "step.cancelled", "step.claimed", "step.overdue", "step.released",
    "step.reminder", "step.skipped", "step.started",
    "team.member_added", "team.member_removed", "team.roles_changed",
    "thread.reopened", "thread.resolved",
    "token.created", "token.revoked",
    "user.changed", "user.created", "user.groups_changed", "user.password_set",
    "version.card_updated", "version.measured", "version.preflight", "version.registered", "version.rolled_back",
    "version.stage_changed",
    "waiver.granted", "waiver.refused", "waiver.requested",
    "workflow.assigned", "workflow.created", "workflow.default_set", "workflow.revised",
)  # fmt: skip
