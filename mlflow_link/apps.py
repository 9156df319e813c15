from django.apps import AppConfig


def follow_production(sender, *, event, request, **about):
    """Receiver of ``approvals.signals.request_event``: after a deployment or a rollback, the
    owned alias follows Signoff's production version (a job, after commit)."""
    from approvals.signals import RequestEvent
    from mlflow_link.services import alias_sync_soon

    if event in (RequestEvent.DEPLOYED, RequestEvent.ROLLED_BACK):
        alias_sync_soon(model=request.model)


class MlflowLinkConfig(AppConfig):
    """MLflow: import versions, own an alias, report and revert drift."""

    name = "mlflow_link"
    verbose_name = "MLflow"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from approvals import deployers
        from approvals.signals import request_event
        from jobs import runner
        from mlflow_link import mail, services
        from mlflow_link.deployer import MlflowAliasDeployer
        from mlflow_link.models import (
            CHECK_DRIFT,
            IMPORT_MLFLOW,
            SEND_DRIFT_MAIL,
            SYNC_ALIAS,
            DriftIncident,
            MlflowConnection,
        )
        from mlflow_link.views import model_page_part, version_page_part
        from registry import page_parts

        deployers.register(MlflowAliasDeployer)
        request_event.connect(follow_production, weak=False, dispatch_uid="mlflow_link.follow")
        page_parts.model_part(model_page_part)
        page_parts.version_part(version_page_part)

        def connection(function):
            def run(pk, *, final_attempt):
                found = MlflowConnection.objects.select_related("model").filter(pk=pk).first()
                if found is not None:
                    function(connection=found)

            return run

        def nothing(pk, reason):
            """Failed for good: the connection shows its last error; the next sweep tries again."""

        runner.register(IMPORT_MLFLOW, target=MlflowConnection, run=connection(services.mlflow_import), fail=nothing,
                        sweep=services.connections_sweep)  # fmt: skip
        runner.register(CHECK_DRIFT, target=MlflowConnection, run=connection(services.drift_check), fail=nothing)
        runner.register(SYNC_ALIAS, target=MlflowConnection, run=connection(services.alias_sync), fail=nothing)
        runner.register(
            SEND_DRIFT_MAIL,
            target=DriftIncident,
            run=lambda pk, *, final_attempt: mail.drift_mail_send(incident_id=pk),
            fail=nothing,
        )
