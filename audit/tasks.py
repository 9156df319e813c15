"""Celery tasks of the audit log."""

from celery import shared_task


@shared_task
def audit_checkpoint() -> None:
    """Run by Celery beat hourly: what ``manage.py audit_checkpoint`` does."""
    from django.core.management import call_command

    call_command("audit_checkpoint")
