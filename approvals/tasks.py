"""Celery tasks: thin wrappers around the one job runner (``approvals.jobs``)."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from approvals import jobs


# Every job ends within these limits; a hung check or SMTP server does not stop a worker. The
# soft limit raises in the job (recorded as a failed attempt), the hard limit kills the process
# (the job's lease, longer than both, then expires and the sweeper hands it to another worker).
@shared_task(bind=True, soft_time_limit=settings.SIGNOFF_JOB_SOFT_LIMIT, time_limit=settings.SIGNOFF_JOB_HARD_LIMIT)
def run_job(self, job_id: int) -> None:
    try:
        jobs.job_run(job_id, retry_inline=bool(self.request.is_eager))
    except SoftTimeLimitExceeded:
        jobs.job_time_out(job_id)


@shared_task
def sweep_jobs() -> None:
    """Run by Celery beat every 30 seconds."""
    jobs.jobs_sweep()
