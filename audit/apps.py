from django.apps import AppConfig


def record_registry_change(sender, *, actor, verb, obj, model, data, comment, **kwargs):
    """The registry's changes (models, versions, grants) are audited as they happen."""
    from audit.services import audit_record

    audit_record(actor=actor, verb=verb, obj=obj, model=model, data=data, comment=comment)


class AuditConfig(AppConfig):
    """The append-only, chained audit log; other apps write to it through ``audit.services``
    or their signals."""

    name = "audit"
    verbose_name = "Audit log"

    def ready(self):
        from registry.signals import registry_changed

        registry_changed.connect(record_registry_change, weak=False, dispatch_uid="audit.registry")
