from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


def _install_default_workflow(sender, using="default", **kwargs):
    """After `migrate`, a fresh installation follows the shipped workflow until an administrator
    sets another default (nothing changes when a default exists). Where the roles it names do
    not exist yet (a database just emptied by `flush`), the first submission installs it."""
    from approvals.definitions import DefinitionError
    from approvals.revisions import workflow_ensure_default

    try:
        workflow_ensure_default()
    except DefinitionError:
        pass


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self):
        # Parse the shipped default workflow at start: an invalid file stops the process with an
        # error naming the problem instead of failing on the first submission.
        from approvals.definitions import load_definition
        from approvals.job_kinds import register_kinds

        register_kinds()

        from approvals.views import models as model_pages
        from registry import page_parts

        page_parts.version_rows(model_pages.version_rows)
        page_parts.model_part(model_pages.model_page_part)
        page_parts.version_part(model_pages.version_page_part)

        load_definition(settings.SIGNOFF_DEFAULT_WORKFLOW)
        post_migrate.connect(_install_default_workflow, sender=self, dispatch_uid="approvals.default_workflow")

        from django.core import checks as system_checks

        @system_checks.register(system_checks.Tags.database)
        def workflows_name_existing_people(app_configs=None, databases=None, **kwargs):
            """`manage.py check --database default` (and `migrate`) report workflows naming unknown
            roles or users, or needing more approvals than people could give."""
            from django.db import connection

            from approvals.definitions import DefinitionError, reference_problems
            from approvals.models import Workflow
            from approvals.revisions import revision_definition

            # Before the first `migrate` there are no tables to look people up in.
            tables = connection.introspection.table_names() if databases else []
            if "auth_group" not in tables or "approvals_workflow" not in tables:
                return []
            errors = []
            for workflow in Workflow.objects.all():
                revision = workflow.latest
                if revision is None:
                    continue
                try:
                    problems = reference_problems(revision_definition(revision))
                except DefinitionError as error:
                    problems = [str(error)]
                errors += [system_checks.Error(problem, id="signoff.E001", obj=str(revision)) for problem in problems]
            return errors
