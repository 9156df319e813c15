"""Celery tasks of the approvals app (its jobs run through ``jobs.tasks.run_job``)."""
