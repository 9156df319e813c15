"""The ``mlflow_alias`` deployer: deploying moves the alias Signoff owns (``champion`` by default)
to the MLflow version the Signoff version was imported from. MLflow away is retried; MLflow
refusing, or a version not from MLflow, fails the deployment with MLflow's message, and the IT
engineer deploys again once it is fixed."""

from approvals.deployers import Deployed, DeployError, Target
from jobs.runner import TransientError
from mlflow_link.client import MlflowError, MlflowUnavailable


class MlflowAliasDeployer:
    type = "mlflow_alias"
    keys = ()

    def __init__(self, options):
        pass

    def deploy(self, target: Target) -> Deployed:
        from mlflow_link import services
        from mlflow_link.models import MlflowConnection
        from registry.models import ModelVersion

        connection = MlflowConnection.objects.filter(model_id=target.model_id, active=True).first()
        if connection is None:
            raise DeployError(f"{target.model} is not connected to MLflow (Admin → MLflow connections).")
        version = ModelVersion.objects.select_related("model").get(model_id=target.model_id, number=target.version)
        try:
            number = services.alias_point(connection=connection, version=version)
        except MlflowUnavailable as error:
            raise TransientError(str(error)) from None
        except MlflowError as error:
            raise DeployError(str(error)) from None
        name, alias = connection.registered_model, connection.alias
        return Deployed(
            log=f"MLflow {connection.tracking_uri}: {name}@{alias} → version {number}",
            detail={"registered_model": name, "alias": alias, "mlflow_version": number},
        )
