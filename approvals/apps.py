from django.apps import AppConfig
from django.conf import settings


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

        from django.core import checks as system_checks

        from approvals.definitions import reference_problems

        @system_checks.register(system_checks.Tags.database)
        def workflow_names_existing_people(app_configs=None, databases=None, **kwargs):
            """`manage.py check --database default` (and `migrate`) report unknown roles or users."""
            from django.db import connection

            # Before the first `migrate` there are no tables to look people up in.
            if not databases or "auth_group" not in connection.introspection.table_names():
                return []
            return [
                system_checks.Error(problem, id="signoff.E001", obj=settings.SIGNOFF_DEFAULT_WORKFLOW)
                for problem in reference_problems(default_definition())
            ]
