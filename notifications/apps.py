from django.apps import AppConfig

ABOUT = ("step", "decision", "actor", "comment", "waiver", "emergency")  # what a notification row may refer to


def record_notification(sender, *, event, request, **about):
    """Receiver of ``approvals.signals.request_event``: an e-mail row, in the change's transaction
    (``about``: the step, decision, actor, comment, waiver or emergency release it concerns)."""
    from notifications.notifiers import NOTIFIERS
    from notifications.services import notification_record

    if event not in NOTIFIERS:  # an event nobody is e-mailed about (webhooks may hear it)
        return
    notification_record(request=request, event=event, **{key: value for key, value in about.items() if key in ABOUT})


class NotificationsConfig(AppConfig):
    """E-mail about requests, fed by the engine's domain signals."""

    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from approvals.signals import request_event
        from jobs import runner
        from notifications import digests, services
        from notifications.models import SEND_DIGEST, SEND_NOTIFICATION, Digest, Notification

        request_event.connect(record_notification, weak=False, dispatch_uid="notifications.record")
        runner.register(
            SEND_NOTIFICATION,
            target=Notification,
            run=lambda notification_id, *, final_attempt: services.notification_send(notification_id),
            fail=lambda pk, reason: services.notification_give_up(notification_id=pk, reason=reason),
        )
        runner.register(
            SEND_DIGEST,
            target=Digest,
            run=lambda digest_id, *, final_attempt: digests.digest_send(digest_id),
            fail=lambda pk, reason: digests.digest_give_up(digest_id=pk, reason=reason),
            sweep=digests.digests_sweep,
        )
