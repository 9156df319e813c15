"""Save a workflow from a YAML file (for teams that keep workflows in git): a new revision of the
workflow the file names, assigned to models or made the default. Validated and audited like an
edit in the admin; an invalid file changes nothing and exits 1 with the line."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from approvals import revisions
from approvals.definitions import DefinitionError, parse_definition
from approvals.models import Workflow
from registry.models import RegisteredModel


class Command(BaseCommand):
    help = "Save FILE.yaml as the next revision of the workflow it names; assign it with --model or --default."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--model", action="append", default=[], help="A model to follow it (repeatable).")
        parser.add_argument("--default", action="store_true", help="Make it the default workflow.")
        parser.add_argument("--note", default="", help="What changed and why (kept with the revision).")
        parser.add_argument("--by", help="The administrator applying it (default: the system).")

    def handle(self, *args, file: Path, model, default, note, by, **options):
        try:
            source = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from None
        actor = None
        if by:
            actor = get_user_model().objects.filter(username=by, is_active=True).first()
            if actor is None:
                raise CommandError(f"There is no active user called {by!r}.")
        models = list(RegisteredModel.objects.filter(name__in=model))
        missing = sorted(set(model) - {m.name for m in models})
        if missing:
            raise CommandError(f"There is no model called {missing[0]!r}.")
        try:
            with transaction.atomic():
                revision = revisions.workflow_revise(
                    source=source, actor=actor, note=note or f"Applied from {file.name}"
                )
                workflow = revision.workflow if revision else Workflow.objects.get(name=parse_definition(source).name)
                if default:
                    revisions.workflow_set_default(workflow=workflow, actor=actor)
                for each in models:
                    revisions.workflow_assign(model=each, workflow=workflow, actor=actor)
        except DefinitionError as error:
            raise CommandError(f"{file}: {error}") from None
        what = f"revision {revision.number}" if revision else f"unchanged (revision {workflow.latest.number})"
        self.stdout.write(self.style.SUCCESS(f"Workflow '{workflow.name}': {what}."))
