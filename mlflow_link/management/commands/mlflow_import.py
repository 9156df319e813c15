from django.core.management.base import BaseCommand, CommandError

from mlflow_link import services
from mlflow_link.models import MlflowConnection


class Command(BaseCommand):
    help = "Import the new versions of a Signoff model's MLflow registered model (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="the Signoff model's name")

    def handle(self, *args, model, **options):
        connection = MlflowConnection.objects.select_related("model").filter(model__name=model).first()
        if connection is None:
            raise CommandError(f"{model} is not connected to MLflow (Admin → MLflow connections).")
        try:
            imported = services.mlflow_import(connection=connection)
        except Exception as error:  # MLflow away: say so, exit non-zero
            raise CommandError(str(error)) from None
        connection.refresh_from_db()
        for version in imported:
            self.stdout.write(f"Imported {model} v{version.number} (sha256 {version.artifact_sha256})")
        if not imported:
            self.stdout.write("Nothing new to import.")
        if connection.last_import_error:
            self.stderr.write(f"Skipped:\n{connection.last_import_error}")
