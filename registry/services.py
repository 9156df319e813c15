"""Every write to the registry goes through these functions."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from registry import permissions
from registry.model_cards import validate_model_card
from registry.models import ModelVersion, RegisteredModel, Team, sha256_of
from registry.signals import announce
from registry.validation import validate_metrics, validate_model_artifact, validate_params, validate_text


def _name_unavailable(name: str) -> ValidationError:
    # The same words whether the taken name belongs to a model you see or to another team's:
    # the refusal must not tell an outsider which models exist.
    return ValidationError({"name": [f"The name {name!r} is not available; choose another."]})


def registered_model_create(*, name: str, team: Team, created_by, description: str = "") -> RegisteredModel:
    """Register a new model owned by ``team``; its members can see it from now on."""
    refusal = permissions.refusal(created_by, permissions.CREATE_MODEL, team)
    if refusal:
        raise PermissionDenied(refusal)
    validate_text(description, what="The description")
    model = RegisteredModel(name=name, description=description, team=team, created_by=created_by)
    # The team and author are rows in hand: no query to prove they exist.
    model.full_clean(exclude=["team", "created_by"], validate_unique=False)
    try:
        with transaction.atomic():
            model.save()
            permissions.model_grant_team_access(model=model)
            announce(actor=created_by, verb="model.registered", obj=model, model=model, data={"team": team.slug})
    except IntegrityError:  # the name's unique constraint: taken, now or earlier (no query to ask first)
        raise _name_unavailable(name) from None
    return model


def registered_model_change_team(*, model: RegisteredModel, team: Team, actor) -> RegisteredModel:
    """Hand ``model`` to ``team``: the new team's members gain access, the old team's lose it.

    Administrators do this (in the admin); grants to single users and other groups stay.
    """
    if not actor.is_superuser:
        raise PermissionDenied("Only administrators may move a model to another team.")
    with transaction.atomic():
        locked = (
            RegisteredModel.objects.select_for_update(no_key=True, of=("self",))
            .select_related("team__group")
            .get(pk=model.pk)
        )
        old_team = locked.team
        if old_team.pk == team.pk:
            return locked
        permissions.model_revoke_team_access(model=locked, team=old_team)
        locked.team = team
        locked.save(update_fields=["team"])
        permissions.model_grant_team_access(model=locked)
        announce(
            actor=actor,
            verb="model.team_changed",
            obj=locked,
            model=locked,
            data={"from_team": old_team.slug, "to_team": team.slug},
        )
    return locked


def model_permission_set(*, model: RegisteredModel, grantee, granted: bool, actor) -> None:
    """Grant (or withdraw) access to ``model`` for one user or group; administrators only, audited."""
    if not actor.is_superuser:
        raise PermissionDenied("Only administrators grant access to models.")
    with transaction.atomic():
        changed = permissions.model_set_access(model=model, grantee=grantee, granted=granted)
        if changed:
            announce(
                actor=actor,
                verb="model.access_granted" if granted else "model.access_revoked",
                obj=model,
                model=model,
                data={"grantee": str(grantee), "grantee_type": grantee._meta.model_name},
            )


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
    model_card: dict | None = None,
    derived_from: ModelVersion | None = None,
    imported: bool = False,
) -> ModelVersion:
    """Store a new version of ``model`` with the next number; the artifact's SHA-256 is recorded.

    Raises ValidationError naming the field when any input is invalid; nothing is written then.
    ``imported``: brought in by a connection an administrator set up (``mlflow_link``), so
    ``created_by`` (who trained it, or the import's own user) needs no right to register here.
    """
    refusal = None if imported else permissions.refusal(created_by, permissions.REGISTER_VERSION, model)
    if refusal:
        raise PermissionDenied(refusal)
    metrics = {} if metrics is None else metrics  # an empty list is not "no metrics": it is refused
    params = {} if params is None else params
    errors = {}
    for field, check, value in (
        ("metrics", validate_metrics, metrics),
        ("params", validate_params, params),
        ("description", lambda text: validate_text(text, what="The description"), description),
    ):
        try:
            check(value)
        except ValidationError as error:
            errors[field] = error.messages
    try:
        model_card = validate_model_card(model_card)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        validate_model_artifact(artifact)
    except ValidationError as error:
        errors["artifact"] = error.messages
    if derived_from is not None and derived_from.model_id != model.pk:
        errors["derived_from"] = "The version it fixes must be a version of the same model."
    if errors:
        raise ValidationError(errors)

    version = ModelVersion(
        model=model,
        description=description,
        metrics=validate_metrics(metrics),
        params=params,
        dataset_uri=dataset_uri,
        dataset_version=dataset_version,
        code_repository=code_repository,
        code_commit=code_commit,
        model_card=model_card,
        derived_from=derived_from,
        created_by=created_by,
        artifact_sha256=sha256_of(artifact),
        artifact_size=artifact.size,
    )
    with transaction.atomic():
        # Lock the model row so two uploads never take the same number. NO KEY UPDATE: rows that
        # merely refer to the model (audit events, requests) can still be inserted meanwhile; a
        # full FOR UPDATE would deadlock with a transaction holding the model's audit chain.
        RegisteredModel.objects.select_for_update(no_key=True).get(pk=model.pk)
        highest = model.versions.aggregate(highest=Max("number"))["highest"] or 0
        version.number = highest + 1
        # The number is unique under the lock and a new version is not in production: only the
        # fields need checking, not the constraints (a query each) nor the rows in hand.
        version.full_clean(
            exclude=["artifact", "model", "created_by"], validate_unique=False, validate_constraints=False
        )
        version.artifact.save(artifact.name, artifact, save=False)
        try:
            version.save()
            announce(
                actor=created_by,
                verb="version.registered",
                obj=version,
                model=model,
                data={"number": version.number, "artifact_sha256": version.artifact_sha256},
            )
        except Exception:
            version.artifact.delete(save=False)
            raise
    return version


def model_version_artifact_open(*, version: ModelVersion, actor):
    """Open ``version``'s artifact for ``actor`` to download; the download is audited.

    The caller has already scoped ``version`` to what ``actor`` may see.
    """
    refusal = permissions.refusal(actor, permissions.VIEW, version.model)
    if refusal:
        raise PermissionDenied(refusal)
    handle = version.artifact.open("rb")
    with transaction.atomic():
        announce(
            actor=actor,
            verb="artifact.downloaded",
            obj=version,
            model=version.model,
            data={"artifact_sha256": version.artifact_sha256},
        )
    return handle


def model_version_mark_submitted(*, version: ModelVersion) -> None:
    """Freeze ``version``: from now on only its stage changes. Call inside the caller's transaction."""
    if version.submitted_at is None:
        version.submitted_at = timezone.now()
        version.save(update_fields=["submitted_at"])


def model_version_set_stage(*, version: ModelVersion, stage: str, note: str = "") -> str:
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
    version.stage_note = note
    version.save(update_fields=["stage", "stage_changed_at", "stage_note"])
    return previous


def model_version_flag_emergency(*, version: ModelVersion) -> None:
    """Flag ``version`` as released past its waiting reviews (break-glass; audited by the caller,
    inside its transaction). The flag stays: it is part of the version's history."""
    version.emergency_release = True
    version.save(update_fields=["emergency_release"])


def model_version_card_update(*, version: ModelVersion, model_card: dict, actor) -> ModelVersion:
    """Replace the model card of a version not yet submitted (a submitted version is immutable:
    register a fixed version instead). Audited."""
    refusal = permissions.refusal(actor, permissions.REGISTER_VERSION, version.model)
    if refusal:
        raise PermissionDenied(refusal)
    card = validate_model_card(model_card)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update(of=("self",)).get(pk=version.pk)
        if locked.is_submitted:
            raise ValidationError(
                {"model_card": f"{locked} is submitted and immutable; register a fixed version to change its card."}
            )
        locked.model_card = card
        locked.save(update_fields=["model_card"])
        announce(actor=actor, verb="version.card_updated", obj=locked, model=version.model,
                 data={"number": locked.number, "fields": sorted(card)})  # fmt: skip
    version.model_card = card
    return version
