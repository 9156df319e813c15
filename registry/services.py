"""Every write to the registry goes through these functions."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from registry import permissions
from registry.models import ModelVersion, RegisteredModel, Team, sha256_of
from registry.validation import validate_artifact, validate_metrics, validate_params


def registered_model_create(*, name: str, team: Team, created_by, description: str = "") -> RegisteredModel:
    """Register a new model owned by ``team``; its members can see it from now on."""
    if not permissions.user_can_create_model(created_by, team):
        raise PermissionDenied(f"You may not register models for the team {team.name}.")
    model = RegisteredModel(name=name, description=description, team=team, created_by=created_by)
    model.full_clean()
    with transaction.atomic():
        model.save()
        permissions.model_grant_team_access(model=model)
    return model


def model_version_create(
    *,
    model: RegisteredModel,
    artifact,
    created_by,
    metrics: dict | None = None,
    params: dict | None = None,
    description: str = "",
    dataset_uri: str = "",
    dataset_version: str = "",
    code_repository: str = "",
    code_commit: str = "",
) -> ModelVersion:
    """Store a new version of ``model`` with the next number; the artifact's SHA-256 is recorded.

    Raises ValidationError naming the field when any input is invalid; nothing is written then.
    """
    if not permissions.user_can_register_version(created_by, model):
        raise PermissionDenied("You may not register versions of this model.")
    errors = {}
    for field, check, value in (
        ("metrics", validate_metrics, metrics or {}),
        ("params", validate_params, params or {}),
    ):
        try:
            check(value)
        except ValidationError as error:
            errors[field] = error.messages
    try:
        validate_artifact(artifact)
    except ValidationError as error:
        errors["artifact"] = error.messages
    if errors:
        raise ValidationError(errors)

    version = ModelVersion(
        model=model,
        description=description,
        metrics=validate_metrics(metrics or {}),
        params=params or {},
        dataset_uri=dataset_uri,
        dataset_version=dataset_version,
        code_repository=code_repository,
        code_commit=code_commit,
        created_by=created_by,
        artifact_sha256=sha256_of(artifact),
        artifact_size=artifact.size,
    )
    with transaction.atomic():
        # Lock the model row so two uploads never take the same number.
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        highest = model.versions.aggregate(highest=Max("number"))["highest"] or 0
        version.number = highest + 1
        version.full_clean(exclude=["artifact"])
        version.artifact.save(artifact.name, artifact, save=False)
        try:
            version.save()
        except Exception:
            version.artifact.delete(save=False)
            raise
    return version


def model_version_mark_submitted(*, version: ModelVersion) -> None:
    """Freeze ``version``: from now on only its stage changes. Call inside the caller's transaction."""
    if version.submitted_at is None:
        version.submitted_at = timezone.now()
        version.save(update_fields=["submitted_at"])


def model_version_set_stage(*, version: ModelVersion, stage: str) -> str:
    """Move ``version`` to ``stage``; returns the previous stage. Call inside the caller's transaction.

    Moving a version to production archives the model's current production version first, so
    the one-production-version constraint holds at every statement.
    """
    previous = version.stage
    now = timezone.now()
    if stage == ModelVersion.Stage.PRODUCTION:
        ModelVersion.objects.filter(model_id=version.model_id, stage=ModelVersion.Stage.PRODUCTION).exclude(
            pk=version.pk
        ).update(stage=ModelVersion.Stage.ARCHIVED, stage_changed_at=now)
    version.stage = stage
    version.stage_changed_at = now
    version.save(update_fields=["stage", "stage_changed_at"])
    return previous
