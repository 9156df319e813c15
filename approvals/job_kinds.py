"""What each kind of job does, and what happens when it fails for good (registered with the runner).

Errors a retry may cure (a lock timeout or deadlock, a connection lost, a mail server away) are
``TransientError``; anything else is permanent.
"""

from django.db import OperationalError

from approvals import datasets, jobs, notifications, services
from approvals.faults import fault_point
from approvals.models import CheckRun, Job


def _database_hiccups_are_transient(function):
    def run(target_id, *, final_attempt):
        try:
            return function(target_id, final_attempt=final_attempt)
        except OperationalError as error:  # deadlock detected, lock timeout, connection lost
            raise jobs.TransientError(str(error)) from error

    return run


@_database_hiccups_are_transient
def run_check(check_run_id, *, final_attempt):
    services.check_run_execute(check_run_id=check_run_id, final_attempt=final_attempt)


@_database_hiccups_are_transient
def conclude_checks(check_run_id, *, final_attempt):
    step_id = CheckRun.objects.filter(pk=check_run_id).values_list("step_id", flat=True).first()
    fault_point("before_conclude")
    if step_id is not None:
        services.checks_step_conclude(step_id=step_id)


@_database_hiccups_are_transient
def execute_step(step_id, *, final_attempt):
    services.step_execute(step_id=step_id)


def send_notification(notification_id, *, final_attempt):
    notifications.notification_send(notification_id)


@_database_hiccups_are_transient
def profile_dataset(dataset_id, *, final_attempt):
    datasets.evaluation_dataset_profile(dataset_id=dataset_id)


def _nothing(target_id, reason):
    """A conclusion that failed for good is taken up again by the sweeper."""


jobs.register(
    Job.Kind.RUN_CHECK,
    run=run_check,
    fail=lambda pk, reason: services.check_run_fail(check_run_id=pk, reason=reason),
)
jobs.register(Job.Kind.CONCLUDE_CHECKS, run=conclude_checks, fail=_nothing)
jobs.register(
    Job.Kind.EXECUTE_STEP,
    run=execute_step,
    fail=lambda pk, reason: services.step_execution_fail(step_id=pk, reason=reason),
)
jobs.register(
    Job.Kind.SEND_NOTIFICATION,
    run=send_notification,
    fail=lambda pk, reason: notifications.notification_give_up(notification_id=pk, reason=reason),
)
jobs.register(
    Job.Kind.PROFILE_DATASET,
    run=profile_dataset,
    fail=lambda pk, reason: datasets.evaluation_dataset_refuse(dataset_id=pk, reason=reason),
)
