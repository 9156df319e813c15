from django.apps import AppConfig


def reuse_database_connections(task=None, **_):
    """Around each job a worker treats its database connection as the web tier does around each
    request (``CONN_MAX_AGE``, checked before reuse): closed only when it failed or is too old.
    (Celery's Django fixup would close it around every task: a new PostgreSQL connection per job;
    ``CELERY_DB_REUSE_MAX`` in the settings turns that off.)"""
    from django.db import close_old_connections

    if task is not None and getattr(task.request, "is_eager", False):
        return  # run in the caller's process (tests, scripts): its connection is the caller's
    close_old_connections()


def take_over_abandoned_jobs(sender=None, **_):
    """A worker that starts (after a crash, say) sweeps at once rather than waiting for beat."""
    sender.app.send_task("jobs.tasks.sweep_jobs")


class JobsConfig(AppConfig):
    """Background work as rows and one runner; the domain apps register their kinds of job in
    their own ``AppConfig.ready()``. Imports no domain app."""

    name = "jobs"
    verbose_name = "Background jobs"

    def ready(self):
        from celery.signals import task_postrun, task_prerun, worker_ready

        worker_ready.connect(take_over_abandoned_jobs, weak=False, dispatch_uid="jobs.sweep_on_start")
        task_prerun.connect(reuse_database_connections, weak=False, dispatch_uid="jobs.db_before_task")
        task_postrun.connect(reuse_database_connections, weak=False, dispatch_uid="jobs.db_after_task")
