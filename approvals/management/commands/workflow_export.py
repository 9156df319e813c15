"""Write each workflow's latest revision as YAML, exactly as saved (for teams that keep
workflows in git): to standard output, or one NAME.yaml per workflow in a folder."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from approvals.models import Workflow


class Command(BaseCommand):
    help = "Print a workflow's latest revision (--workflow NAME), or write every workflow to --output DIR."

    def add_arguments(self, parser):
        parser.add_argument("--workflow", help="The workflow to print.")
        parser.add_argument("--output", type=Path, help="A folder to write NAME.yaml files to.")

    def handle(self, *args, workflow, output, **options):
        workflows = Workflow.objects.order_by("name")
        if workflow:
            workflows = workflows.filter(name=workflow)
            if not workflows.exists():
                raise CommandError(f"There is no workflow called {workflow!r}.")
        if output is None and not workflow:
            raise CommandError("Name a workflow with --workflow, or a folder with --output.")
        for each in workflows:
            latest = each.latest
            if latest is None:
                continue
            if output is None:
                self.stdout.write(latest.source, ending="" if latest.source.endswith("\n") else "\n")
                continue
            output.mkdir(parents=True, exist_ok=True)
            (output / f"{each.name}.yaml").write_text(latest.source, encoding="utf-8")
            self.stdout.write(f"{each.name}: revision {latest.number} → {output / (each.name + '.yaml')}")
