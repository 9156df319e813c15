"""MLflow, obeyed (services): connect a Signoff model to an MLflow registered model, import its
versions, own one alias, and treat an alias moved outside Signoff as an incident.

- ``mlflow_connect`` / ``mlflow_connection_update``: administrators only, audited; the secret MLflow
  signs its ``model_version.created`` webhook with is shown once.
- ``mlflow_import``: each MLflow version not yet imported becomes a Signoff version: the model
  file named by its ``MLmodel`` (downloaded through MLflow's artifact API, hashed and checked like
  any upload), the source run's metrics and params, its git lineage, and the run id, source and
  tags on the ``MlflowVersion`` row. Importing twice creates nothing new.
- ``alias_point``: the owned alias on the MLflow version a Signoff version came from (the
  ``mlflow_alias`` deployer, and after a rollback ``alias_sync``).
- ``drift_check``: the owned alias compared with Signoff's production version; a difference is a
  ``DriftIncident`` (audited ``model.production_drift``, e-mailed to the model's IT engineers and
  managers, a webhook event, shown on the model page) and, if the connection says so, reverted.
"""

import hmac
import logging
import secrets
from datetime import timedelta
from pathlib import PurePosixPath

import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from approvals.models import StepState
from audit.services import audit_record
from config import outbound
from jobs.models import Job
from jobs.runner import TransientError, job_enqueue
from mlflow_link.client import (
    ListedVersion,
    Mlflow,
    MlflowError,
    MlflowUnavailable,
    Run,
    check_tracking_uri,
    listed_version,
)
from mlflow_link.models import (
    CHECK_DRIFT,
    IMPORT_MLFLOW,
    SEND_DRIFT_MAIL,
    SYNC_ALIAS,
    DriftIncident,
    MlflowConnection,
    MlflowVersion,
)
from registry.models import ModelVersion
from registry.selectors import production_version
from registry.services import model_version_create
from registry.validation import clean_text

logger = logging.getLogger(__name__)
SERVICE_USER = "mlflow-import"
ALIAS_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _may_configure(actor) -> None:
    if not (actor is not None and actor.is_active and actor.is_superuser):
        raise PermissionDenied("Only administrators connect models to MLflow.")


def _clean(tracking_uri, registered_model, alias) -> tuple[str, str, str]:
    tracking_uri = check_tracking_uri(tracking_uri)
    if not isinstance(registered_model, str) or not 1 <= len(registered_model) <= 256:
        raise ValidationError({"registered_model": "Give the registered model's name in MLflow (1 to 256 characters)."})
    registered_model = clean_text(registered_model, field="registered_model", limit=256)
    if not isinstance(alias, str) or not 1 <= len(alias) <= 100 or not set(alias) <= ALIAS_CHARS:
        raise ValidationError({"alias": "An alias is 1 to 100 letters, digits, '_' or '-', e.g. champion."})
    if alias.lower() == "latest" or alias.lower().startswith("v") and alias[1:].isdigit():
        raise ValidationError({"alias": f"MLflow reserves {alias!r}; choose another alias, e.g. champion."})
    return tracking_uri, registered_model, alias


def mlflow_connect(*, model, tracking_uri, registered_model, actor, alias="champion", revert_drift=False):
    """Connect ``model``; returns the connection and the webhook secret (shown once)."""
    _may_configure(actor)
    tracking_uri, registered_model, alias = _clean(tracking_uri, registered_model, alias)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        if MlflowConnection.objects.select_for_update().filter(model=model).exists():
            raise ValidationError({"model": f"{model.name} is already connected to MLflow."})
        connection = MlflowConnection.objects.create(
            model=model, tracking_uri=tracking_uri, registered_model=registered_model, alias=alias,
            revert_drift=bool(revert_drift), webhook_secret=secret, created_by=actor,
        )  # fmt: skip
        audit_record(
            actor=actor, verb="mlflow.connected", obj=connection, model=model,
            data={"tracking_uri": tracking_uri, "registered_model": registered_model, "alias": alias,
                  "revert_drift": bool(revert_drift)},
        )  # fmt: skip
        job_enqueue(IMPORT_MLFLOW, connection.pk, again=True)
    return connection, secret


def mlflow_connection_update(*, connection, actor, tracking_uri, registered_model, alias, revert_drift, active):
    _may_configure(actor)
    tracking_uri, registered_model, alias = _clean(tracking_uri, registered_model, alias)
    with transaction.atomic():
        connection = MlflowConnection.objects.select_for_update().get(pk=connection.pk)
        fields = ("tracking_uri", "registered_model", "alias", "revert_drift", "active")
        before = {name: getattr(connection, name) for name in fields}
        after = dict(
            zip(fields, (tracking_uri, registered_model, alias, bool(revert_drift), bool(active)), strict=True)
        )
        for name, value in after.items():
            setattr(connection, name, value)
        connection.save(update_fields=list(fields))
        audit_record(actor=actor, verb="mlflow.changed", obj=connection, model=connection.model,
                     data={"before": before, "after": after})  # fmt: skip
    return connection


# --- import ------------------------------------------------------------------------------------


def _model_file(mlmodel_text: str) -> str:
    """The model file an ``MLmodel`` names (one file beside it): the sklearn flavor's, else pyfunc's."""
    try:
        mlmodel = yaml.safe_load(mlmodel_text)
    except yaml.YAMLError:
        raise MlflowError("its MLmodel file is not YAML") from None
    except RecursionError:  # a megabyte of brackets: this version is skipped, not the whole import
        raise MlflowError("its MLmodel file is nested too deeply") from None
    except ValueError:  # e.g. an integer of more than 4,300 digits
        raise MlflowError("its MLmodel file holds a value that cannot be read") from None
    flavors = mlmodel.get("flavors") if isinstance(mlmodel, dict) else None
    if not isinstance(flavors, dict):
        raise MlflowError("its MLmodel file names no flavors")
    for flavor, key in (("sklearn", "pickled_model"), ("python_function", "model_path")):
        name = (flavors.get(flavor) or {}).get(key) if isinstance(flavors.get(flavor), dict) else None
        if isinstance(name, str) and name and "/" not in name and name not in (".", ".."):
            return name
    raise MlflowError("its MLmodel names no single model file (sklearn or python_function) Signoff can check")


def _author(run: Run):
    """Who trained it, if Signoff knows them by the same user name; else the import's own user
    (never an administrator, so the people who decide are never its authors by accident)."""
    User = get_user_model()
    user = User.objects.filter(username=run.user_id, is_active=True).first() if run.user_id else None
    if user is not None:
        return user
    service, _ = User.objects.get_or_create(username=SERVICE_USER, defaults={"is_active": False})
    return service


def _import_one(connection: MlflowConnection, mlflow: Mlflow, found: ListedVersion) -> ModelVersion | None:
    number = found.number
    if MlflowVersion.objects.filter(connection=connection, mlflow_version=number).exists():
        return None
    run = mlflow.run(found.run_id) if found.run_id else Run()
    artifact_uri = mlflow.download_uri(connection.registered_model, number)
    file_name = _model_file(mlflow.artifact_text(f"{artifact_uri.rstrip('/')}/MLmodel"))
    spool, sha256, size = mlflow.artifact_download(
        f"{artifact_uri.rstrip('/')}/{file_name}", settings.SIGNOFF_MAX_ARTIFACT_BYTES
    )
    with spool, transaction.atomic():
        MlflowConnection.objects.select_for_update().get(pk=connection.pk)  # one import at a time
        if MlflowVersion.objects.filter(connection=connection, mlflow_version=number).exists():
            return None
        author = _author(run)
        version = model_version_create(
            model=connection.model,
            artifact=File(spool, name=PurePosixPath(file_name).name),
            created_by=author,
            metrics=run.metrics,
            params=run.params,
            description=found.description or f"Imported from MLflow {connection.registered_model} v{number}"[:5000],
            code_repository=run.tags.get("mlflow.source.git.repoURL", "")[:500],
            code_commit=run.tags.get("mlflow.source.git.commit", "")[:100],
            imported=True,
        )  # fmt: skip
        if version.artifact_sha256 != sha256:  # what was checked is what was downloaded
            raise MlflowError(f"MLflow v{number}'s bytes changed while they were read")
        MlflowVersion.objects.create(
            connection=connection, mlflow_version=number, version=version, run_id=found.run_id,
            source=found.source, artifact_uri=artifact_uri[:2000], tags=run.tags,
        )  # fmt: skip
        audit_record(
            actor=None, verb="version.imported", obj=version, model=connection.model,
            data={"mlflow_version": number, "run_id": found.run_id, "source": found.source,
                  "artifact_sha256": sha256, "size": size, "author": author.username},
        )  # fmt: skip
    return version


def _listed(entries: list) -> tuple[list[ListedVersion], list[str]]:
    """The entries of MLflow's list read, oldest first, and why each one that could not be was not."""
    listed, problems = [], []
    for entry in entries:
        try:
            listed.append(listed_version(entry))
        except MlflowError as error:
            problems.append(str(error))
    return sorted(listed, key=lambda found: found.number), problems


def mlflow_import(*, connection: MlflowConnection) -> list[ModelVersion]:
    """Import the connection's new MLflow versions (READY ones), oldest first. A version MLflow
    cannot serve or Signoff refuses is skipped with the reason kept on the connection; MLflow
    being away raises ``TransientError``."""
    mlflow = Mlflow(connection.tracking_uri)
    imported = []
    try:
        found, problems = _listed(mlflow.versions(connection.registered_model))
    except MlflowUnavailable as error:
        raise TransientError(str(error)) from None
    except MlflowError as error:
        found, problems = [], [str(error)]
    for entry in found:
        if entry.status != "READY":
            continue
        try:
            version = _import_one(connection, mlflow, entry)
        except MlflowUnavailable as error:
            raise TransientError(str(error)) from None
        except (MlflowError, ValidationError) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            problems.append(f"MLflow v{entry.number}: {text}")
            continue
        if version is not None:
            imported.append(version)
    MlflowConnection.objects.filter(pk=connection.pk).update(
        last_import_at=timezone.now(), last_import_error="\n".join(problems)[:5000]
    )
    return imported


def mlflow_webhook_verify(*, connection: MlflowConnection, body: bytes, delivery_id: str, timestamp: str,
                          signature: str) -> bool:  # fmt: skip
    """MLflow's webhook signature: ``v1,`` + base64 HMAC-SHA256 of ``delivery_id.timestamp.body``,
    within five minutes of now."""
    if not connection.webhook_secret or not signature.startswith("v1,"):
        return False
    try:
        age = abs(timezone.now().timestamp() - int(timestamp))
    except ValueError:
        return False
    if age > 300:
        return False
    expected = outbound.hmac_v1(connection.webhook_secret.encode(), delivery_id, timestamp, body)
    return hmac.compare_digest(expected, signature)


def mlflow_import_soon(*, connection: MlflowConnection) -> None:
    """A new MLflow version was announced: import now (a job)."""
    with transaction.atomic():
        job_enqueue(IMPORT_MLFLOW, connection.pk, again=True)


# --- the owned alias ---------------------------------------------------------------------------


def _mlflow_number(version: ModelVersion | None) -> str | None:
    if version is None:
        return None
    link = MlflowVersion.objects.filter(version=version).only("mlflow_version").first()
    return str(link.mlflow_version) if link else None


def alias_point(*, connection: MlflowConnection, version: ModelVersion) -> str:
    """Point the owned alias at the MLflow version ``version`` came from; returns its number."""
    number = _mlflow_number(version)
    if number is None:
        raise MlflowError(f"{version.model.name} v{version.number} was not imported from MLflow: "
                          f"there is no MLflow version for '{connection.alias}' to point at")  # fmt: skip
    Mlflow(connection.tracking_uri).set_alias(connection.registered_model, connection.alias, number)
    return number


def alias_sync(*, connection: MlflowConnection) -> None:
    """The alias follows Signoff's production version (after a rollback or a deployment by
    another deployer); with nothing in production from MLflow, the alias is removed."""
    production = production_version(model=connection.model)
    expected = _mlflow_number(production)
    mlflow = Mlflow(connection.tracking_uri)
    try:
        current = mlflow.alias(connection.registered_model, connection.alias)
        if current == expected:
            return
        mlflow.point_alias(connection.registered_model, connection.alias, expected)
    except MlflowUnavailable as error:
        raise TransientError(str(error)) from None
    with transaction.atomic():
        audit_record(
            actor=None, verb="mlflow.alias_set", obj=connection, model=connection.model,
            data={"alias": connection.alias, "from": current, "to": expected},
        )  # fmt: skip


def alias_sync_soon(*, model) -> None:
    """In the caller's transaction: the model's alias is brought in line after commit."""
    connection = MlflowConnection.objects.filter(model=model, active=True).first()
    if connection is not None:
        job_enqueue(SYNC_ALIAS, connection.pk, again=True)


# --- drift -------------------------------------------------------------------------------------


def _in_motion(connection: MlflowConnection) -> bool:
    """A deployment or an alias sync is under way: the two sides may differ for a moment."""
    deploying = StepState.objects.filter(
        request__model_id=connection.model_id, kind=StepState.Kind.DEPLOYMENT, status=StepState.Status.RUNNING
    ).exists()
    syncing = Job.objects.filter(
        kind=SYNC_ALIAS, target_id=connection.pk, status__in=[Job.Status.PENDING, Job.Status.RUNNING]
    ).exists()
    return deploying or syncing


def drift_check(*, connection: MlflowConnection) -> DriftIncident | None:
    """Compare the owned alias with Signoff's production version; returns a new incident, if any."""
    MlflowConnection.objects.filter(pk=connection.pk).update(last_checked_at=timezone.now())
    if _in_motion(connection):
        return None
    expected = _mlflow_number(production_version(model=connection.model))
    try:
        current = Mlflow(connection.tracking_uri).alias(connection.registered_model, connection.alias)
    except MlflowUnavailable as error:
        raise TransientError(str(error)) from None
    open_incidents = DriftIncident.objects.filter(connection=connection, resolved_at__isnull=True)
    if current == expected:
        open_incidents.update(resolved_at=timezone.now())
        return None
    incident = open_incidents.filter(alias_version=current or "", expected_version=expected or "").first()
    created = incident is None
    if created:
        with transaction.atomic():
            open_incidents.update(resolved_at=timezone.now())  # a different move supersedes it
            incident = DriftIncident.objects.create(
                connection=connection, alias_version=current or "", expected_version=expected or ""
            )
            data = {"model": connection.model.name, "registered_model": connection.registered_model,
                    "alias": connection.alias, "alias_version": current, "expected_version": expected,
                    "incident": incident.pk}  # fmt: skip
            audit_record(actor=None, verb="model.production_drift", obj=connection, model=connection.model, data=data)
            _webhook_event(data)
            job_enqueue(SEND_DRIFT_MAIL, incident.pk)
    if connection.revert_drift and incident.reverted_at is None:
        _revert(connection, incident, expected)
    return incident if created else None


def _webhook_event(data: dict) -> None:
    from webhooks.services import deliveries_record

    deliveries_record(event="model.production_drift", data=data)


def _revert(connection, incident, expected) -> None:
    try:
        Mlflow(connection.tracking_uri).point_alias(connection.registered_model, connection.alias, expected)
    except MlflowError as error:
        DriftIncident.objects.filter(pk=incident.pk).update(revert_error=str(error)[:2000])
        if isinstance(error, MlflowUnavailable):
            raise TransientError(str(error)) from None
        return
    with transaction.atomic():
        now = timezone.now()  # back in line: the incident is over (its record stays)
        DriftIncident.objects.filter(pk=incident.pk).update(reverted_at=now, resolved_at=now, revert_error="")
        audit_record(
            actor=None, verb="mlflow.alias_reverted", obj=connection, model=connection.model,
            data={"alias": connection.alias, "from": incident.alias_version or None, "to": expected,
                  "incident": incident.pk},
        )  # fmt: skip
    incident.refresh_from_db()


def connections_sweep() -> int:
    """Beat: import and check each active connection at most every ``SIGNOFF_MLFLOW_POLL_SECONDS``."""
    due_before = timezone.now() - timedelta(seconds=settings.SIGNOFF_MLFLOW_POLL_SECONDS)
    due = list(
        MlflowConnection.objects.filter(active=True)
        .exclude(last_checked_at__gte=due_before)
        .values_list("pk", flat=True)[:500]
    )
    with transaction.atomic():
        for pk in due:
            job_enqueue(IMPORT_MLFLOW, pk, again=True)
            job_enqueue(CHECK_DRIFT, pk, again=True)
    return len(due)
