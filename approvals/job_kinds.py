"""What each kind of job does, and what happens when it fails for good (registered with the runner).

Errors a retry may cure (a lock timeout or deadlock, a connection lost, a mail server away) are
``TransientError``; anything else is permanent.
"""

from approvals import deadlines, preflight, services
from approvals.models import CheckRun, JobKind, PreflightCheck, StepState
from jobs import runner as jobs
from jobs.faults import fault_point


@jobs.database_hiccups_are_transient
def run_check(check_run_id, *, final_attempt):
    services.check_run_execute(check_run_id=check_run_id, final_attempt=final_attempt)


@jobs.database_hiccups_are_transient
def conclude_checks(check_run_id, *, final_attempt):
    step_id = CheckRun.objects.filter(pk=check_run_id).values_list("step_id", flat=True).first()
    fault_point("before_conclude")
    if step_id is not None:
        services.checks_step_conclude(step_id=step_id)


@jobs.database_hiccups_are_transient
def run_preflight_check(check_id, *, final_attempt):
    preflight.preflight_check_execute(check_id=check_id, final_attempt=final_attempt)


@jobs.database_hiccups_are_transient
def execute_step(step_id, *, final_attempt):
    services.step_execute(step_id=step_id)


def _nothing(target_id, reason):
    """A conclusion that failed for good is taken up again by the sweeper."""


def conclude_stranded_checks_steps() -> int:
    """A step whose conclusion failed for good (e.g. a deadlock on its last attempt) is concluded
    by the sweeper."""
    concluded = services.checks_steps_awaiting_conclusion()
    for step_id in concluded:
        services.checks_step_conclude(step_id=step_id)
    return len(concluded)


def register_kinds() -> None:
    """Called from ``ApprovalsConfig.ready()``."""
    jobs.register(
        JobKind.RUN_CHECK,
        target=CheckRun,
        run=run_check,
        fail=lambda pk, reason: services.check_run_fail(check_run_id=pk, reason=reason),
    )
    jobs.register(
        JobKind.CONCLUDE_CHECKS,
        target=CheckRun,  # the run that finished last; its step is concluded
        run=conclude_checks,
        fail=_nothing,
        sweep=conclude_stranded_checks_steps,
    )
    jobs.register(
        JobKind.STEP_DEADLINE,  # no job rows: the sweeper passes the steps whose reminder or deadline came
        target=StepState,
        run=lambda step_id, *, final_attempt: deadlines.step_deadline_pass(step_id=step_id),
        fail=_nothing,
        sweep=deadlines.deadlines_sweep,
    )
    jobs.register(
        JobKind.RUN_PREFLIGHT_CHECK,
        target=PreflightCheck,
        run=run_preflight_check,
        fail=lambda pk, reason: preflight.preflight_check_fail(check_id=pk, reason=reason),
    )
    jobs.register(
        JobKind.EXECUTE_STEP,
        target=StepState,
        run=execute_step,
        fail=lambda pk, reason: services.step_execution_fail(step_id=pk, reason=reason),
    )
