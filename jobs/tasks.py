"""Celery tasks of the job runner: thin wrappers around ``jobs.runner``."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from jobs import runner


# Every job ends within these limits; a hung check or SMTP server does not stop a worker. The
# soft limit raises in the job (recorded as a failed attempt), the hard limit kills the process
# (its heartbeat dies with it: the job's short lease then expires and the sweeper hands it over).
@shared_task(bind=True, soft_time_limit=settings.SIGNOFF_JOB_SOFT_LIMIT, time_limit=settings.SIGNOFF_JOB_HARD_LIMIT)
def run_job(self, job_id: int) -> None:
    try:
        runner.job_run(job_id, retry_inline=bool(self.request.is_eager))
    except SoftTimeLimitExceeded:
        runner.job_time_out(job_id)


@shared_task
def sweep_jobs() -> None:
    """Run by Celery beat every 10 seconds, and by each worker as it starts."""
    runner.jobs_sweep()
