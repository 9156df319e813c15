from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self):
        # Load and validate the default workflow at start: an invalid one stops the process
        # with an error naming the problem instead of failing on the first submission.
        from approvals import checks as checks  # noqa: F401  (registers check plug-ins)
        from approvals.definitions import default_definition

        default_definition()

        from approvals.audit import audit_record
        from registry.signals import registry_changed

        def record_registry_change(sender, *, actor, verb, obj, model, data, comment, **kwargs):
            audit_record(actor=actor, verb=verb, obj=obj, model=model, data=data, comment=comment)

        registry_changed.connect(record_registry_change, weak=False, dispatch_uid="approvals.audit.registry")
