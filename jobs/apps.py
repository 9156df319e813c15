from django.apps import AppConfig


def take_over_abandoned_jobs(sender=None, **_):
    """A worker that starts (after a crash, say) sweeps at once rather than waiting for beat."""
    sender.app.send_task("jobs.tasks.sweep_jobs")


class JobsConfig(AppConfig):
    """Background work as rows and one runner; the domain apps register their kinds of job in
    their own ``AppConfig.ready()``. Imports no domain app."""

    name = "jobs"
    verbose_name = "Background jobs"

    def ready(self):
        from celery.signals import worker_ready

        worker_ready.connect(take_over_abandoned_jobs, weak=False, dispatch_uid="jobs.sweep_on_start")
