from django.apps import AppConfig


def _event_name(event: str, decision) -> str | None:
    """The webhook event an engine event is, if any (decisions by their verdict)."""
    from approvals.models import Decision
    from approvals.signals import RequestEvent

    if event == RequestEvent.DECISION and decision is not None:
        return {
            Decision.Verdict.APPROVE: "model_version.approved",
            Decision.Verdict.REQUEST_CHANGES: "model_version.changes_requested",
            Decision.Verdict.REJECT: "model_version.rejected",
        }[decision.verdict]
    return {
        RequestEvent.SUBMITTED: "model_version.submitted",
        RequestEvent.CHECKS_FAILED: "model_version.checks_failed",
        RequestEvent.DEPLOYED: "model_version.deployed",
        RequestEvent.ROLLED_BACK: "model_version.rolled_back",
    }.get(event)


def record_deliveries(sender, *, event, request, step=None, decision=None, actor=None, **about):
    """Receiver of ``approvals.signals.request_event``: a delivery row and job per subscribed
    endpoint, in the change's transaction."""
    from django.conf import settings

    from webhooks.services import deliveries_record

    name = _event_name(event, decision)
    if name is None:
        return
    data = {
        "model": request.model.name,
        "version": request.version.number,
        "request": request.pk,
        "request_url": f"{settings.SIGNOFF_BASE_URL}{request.get_absolute_url()}",
        "status": request.status,
        "step": step.name if step is not None else None,
        "actor": actor.username if actor is not None and actor.is_authenticated else None,
        "comment": decision.comment if decision is not None else None,
        "artifact_sha256": request.version.artifact_sha256,
    }
    deliveries_record(event=name, data=data)


class WebhooksConfig(AppConfig):
    """Webhooks: the engine's events, signed and delivered to configured endpoints."""

    name = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from approvals.signals import request_event
        from jobs import runner
        from webhooks import services
        from webhooks.models import SEND_WEBHOOK, WebhookDelivery

        request_event.connect(record_deliveries, weak=False, dispatch_uid="webhooks.record")

        def run(delivery_id, *, final_attempt):
            services.webhook_send(delivery_id)

        runner.register(
            SEND_WEBHOOK,
            target=WebhookDelivery,
            run=run,
            fail=lambda pk, reason: services.webhook_give_up(delivery_id=pk, reason=reason),
        )
