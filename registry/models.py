"""The model registry: teams, registered models and their versions.

This app knows nothing of approvals; the ``approvals`` app moves versions between stages
through the services in ``registry.services``.
"""

import hashlib

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

model_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{0,99}$",
    "Use 1–100 lowercase letters, digits, '-' or '_', starting with a letter or digit.",
)


class Team(models.Model):
    """A group of people who own models. Members are the users of ``group``."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="team")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class TeamRole(models.Model):
    """A role someone holds within one team only ("manager of Risk"): it counts for that team's
    models and for no other. A role held for every team is membership of the role's group itself."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_roles")
    role = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="+")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "user", "role"]
        constraints = [models.UniqueConstraint(fields=["team", "user", "role"], name="one_team_role_row")]
        indexes = [models.Index(fields=["user", "team"], name="team_role_user_idx")]

    def __str__(self):
        return f"{self.user} is {self.role.name} in {self.team}"


class RegisteredModel(models.Model):
    """A model under governance; its versions travel from development to production."""

    name = models.CharField(max_length=100, unique=True, validators=[model_name_validator])
    description = models.TextField(blank=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="models")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "registered model"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("model-detail", kwargs={"name": self.name})


class RegisteredModelUserObjectPermission(UserObjectPermissionBase):
    """Per-model grants to single users (guardian, direct foreign key)."""

    content_object = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE)


class RegisteredModelGroupObjectPermission(GroupObjectPermissionBase):
    """Per-model grants to groups, teams included (guardian, direct foreign key)."""

    content_object = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE)


def artifact_upload_to(instance: "ModelVersion", filename: str) -> str:
    return f"artifacts/{instance.model.name}/v{instance.number}/{filename}"


class ModelVersion(models.Model):
    """One trained artifact of a registered model, with its metrics, parameters and lineage.

    A version is immutable once submitted for approval (``submitted_at`` is set); from then
    on only its ``stage`` changes, and only through the approval services.
    """

    class Stage(models.TextChoices):
        DEVELOPMENT = "development", "Development"
        QA = "qa", "QA"
        PRODUCTION = "production", "Production"
        ARCHIVED = "archived", "Archived"
        ROLLED_BACK = "rolled_back", "Rolled back"

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    artifact = models.FileField(upload_to=artifact_upload_to, max_length=300)
    artifact_sha256 = models.CharField(max_length=64)
    artifact_size = models.PositiveBigIntegerField()
    metrics = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    dataset_uri = models.CharField(max_length=500, blank=True)
    dataset_version = models.CharField(max_length=100, blank=True)
    code_repository = models.CharField(max_length=500, blank=True)
    code_commit = models.CharField(max_length=100, blank=True)
    model_card = models.JSONField(default=dict, blank=True, help_text="registry.model_cards: field → Markdown text.")
    derived_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The version this one fixes (registered with 'Register a fixed version').",
    )  # fmt: skip
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.DEVELOPMENT, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    stage_note = models.TextField(blank=True, help_text="Why the stage last changed, e.g. a rollback's reason.")
    emergency_release = models.BooleanField(
        default=False, help_text="Released past its waiting reviews (break-glass); shown wherever the version is."
    )

    class Meta:
        ordering = ["model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="version_number_unique_per_model"),
            models.UniqueConstraint(
                fields=["model"],
                condition=models.Q(stage="production"),
                name="one_production_version_per_model",
            ),
        ]
        indexes = [
            models.Index(fields=["model", "stage"], name="version_model_stage_idx"),
            # Four-eyes looks up every version with the same artifact.
            models.Index(fields=["artifact_sha256"], name="version_sha256_idx"),
        ]

    def __str__(self):
        return f"{self.model.name} v{self.number}"

    def get_absolute_url(self):
        return reverse("version-detail", kwargs={"name": self.model.name, "number": self.number})

    # What may still change once a version is submitted.
    MUTABLE_AFTER_SUBMISSION = frozenset(
        {"stage", "stage_changed_at", "stage_note", "submitted_at", "emergency_release"}
    )

    def save(self, *args, update_fields=None, **kwargs):
        if self.pk is not None and self.submitted_at is not None:
            if update_fields is None or not set(update_fields) <= self.MUTABLE_AFTER_SUBMISSION:
                raise ValueError(f"{self} is submitted and immutable; only its stage changes.")
        super().save(*args, update_fields=update_fields, **kwargs)

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None

    @property
    def lineage(self) -> dict:
        return {
            "dataset_uri": self.dataset_uri,
            "dataset_version": self.dataset_version,
            "code_repository": self.code_repository,
            "code_commit": self.code_commit,
        }


def sha256_of(file) -> str:
    """SHA-256 of a Django File: computed on receipt for uploads (``registry.uploads``), else
    read in chunks."""
    if getattr(file, "sha256", None):
        return file.sha256
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()
