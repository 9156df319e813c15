"""Background work of the registry (Celery beat)."""

from celery import shared_task

from registry import kept_uploads


@shared_task
def sweep_kept_uploads() -> int:
    """Run by Celery beat every 15 minutes: kept uploads whose hour is over are deleted."""
    return kept_uploads.sweep()
