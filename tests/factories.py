"""Small builders for test data. Everything goes through the services, as in production."""

import itertools
import pickle

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile

from registry.models import ModelVersion, RegisteredModel, Team
from registry.services import model_version_create, registered_model_create

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def make_team(name: str) -> Team:
    group = Group.objects.create(name=f"team {name}")
    return Team.objects.create(name=name, slug=name.lower().replace(" ", "-"), group=group)


def make_user(username: str, *roles: str, team: Team | None = None, password: str | None = None, **extra):
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=password or PASSWORD, **extra
    )
    # get_or_create: transactional tests flush the role groups the migration created.
    groups = [Group.objects.get_or_create(name=role)[0] for role in roles]
    if team is not None:
        groups.append(team.group)
    user.groups.add(*groups)
    return user


def make_model(*, team: Team, by, name: str | None = None) -> RegisteredModel:
    return registered_model_create(
        name=name or f"model-{next(_counter)}", team=team, created_by=by, description="A test model."
    )


def artifact(content: bytes | None = None, name: str = "model.joblib") -> ContentFile:
    """A small, harmless pickle (the default workflow's pickle scan passes it)."""
    return ContentFile(content or pickle.dumps({"weights": [next(_counter), 0.5]}), name=name)


def make_version(*, model: RegisteredModel, by, accuracy: float = 0.91, **fields) -> ModelVersion:
    fields.setdefault("metrics", {"accuracy": accuracy, "f1": 0.88})
    fields.setdefault("params", {"C": 1.0, "max_iter": 200})
    fields.setdefault("dataset_uri", "s3://datasets/credit/applications.parquet")
    fields.setdefault("dataset_version", "2026-10-01")
    fields.setdefault("code_repository", "https://git.example.com/risk/credit-model")
    fields.setdefault("code_commit", "3f2c9ab")
    return model_version_create(
        model=model, artifact=fields.pop("artifact", None) or artifact(), created_by=by, **fields
    )


def make_production_history(*, model: RegisteredModel, by) -> tuple[ModelVersion, ModelVersion]:
    """Two new versions of ``model``: an earlier production version (archived, deployed by a
    completed request, so a rollback may restore it) and the current production version."""
    from django.db import transaction

    from approvals.models import PromotionRequest
    from registry.services import model_version_set_stage

    earlier, current = make_version(model=model, by=by), make_version(model=model, by=by)
    with transaction.atomic():
        model_version_set_stage(version=earlier, stage=ModelVersion.Stage.ARCHIVED)
        model_version_set_stage(version=current, stage=ModelVersion.Stage.PRODUCTION)
    PromotionRequest.objects.create(
        model=model, version=earlier, workflow_name="default", workflow_source="", submitted_by=by, status="completed"
    )
    return earlier, current
