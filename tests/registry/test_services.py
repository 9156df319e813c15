"""Registering models and versions: who may, and what input is refused."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile

from registry.models import ModelVersion, RegisteredModel
from registry.permissions import models_visible_to
from registry.services import registered_model_create
from tests import factories


def test_a_new_model_is_visible_to_its_team_only(people, risk_model):
    assert risk_model in models_visible_to(people.mona)
    assert risk_model in models_visible_to(people.nora)
    assert risk_model not in models_visible_to(people.gary)


def test_a_model_granted_in_the_admin_is_visible_to_that_user(people, risk_model):
    from guardian.shortcuts import assign_perm

    assign_perm("view_registeredmodel", people.gail, risk_model)
    assert list(models_visible_to(people.gail)) == [risk_model]


def test_only_data_scientists_of_the_team_register_models(people):
    with pytest.raises(PermissionDenied):
        registered_model_create(name="x", team=people.risk, created_by=people.mona)
    with pytest.raises(PermissionDenied):
        registered_model_create(name="x", team=people.risk, created_by=people.gina)
    assert not RegisteredModel.objects.exists()


def test_model_names_are_unique_and_url_safe(people, risk_model):
    for name in ("credit-risk", "Credit Risk", "../x", ""):
        with pytest.raises(ValidationError):
            registered_model_create(name=name, team=people.risk, created_by=people.dana)
    assert RegisteredModel.objects.count() == 1


def test_versions_are_numbered_per_model_and_hashed(people, risk_model, growth_model):
    first = factories.make_version(model=risk_model, by=people.dana, artifact=factories.artifact(b"abc"))
    second = factories.make_version(model=risk_model, by=people.dana)
    other = factories.make_version(model=growth_model, by=people.gina)

    assert (first.number, second.number, other.number) == (1, 2, 1)
    assert first.artifact_sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert first.artifact_size == 3


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"metrics": {"accuracy": "high"}}, "metrics"),
        ({"metrics": {"accuracy": float("nan")}}, "metrics"),
        ({"metrics": {"accuracy": float("inf")}}, "metrics"),
        ({"metrics": ["accuracy", 0.9]}, "metrics"),
        ({"params": "C=1"}, "params"),
        ({"artifact": factories.artifact(b"x", name="../evil.pkl")}, "artifact"),
        ({"artifact": ContentFile(b"", name="empty.pkl")}, "artifact"),
    ],
)
def test_bad_version_input_is_refused_and_nothing_is_written(people, risk_model, fields, field):
    with pytest.raises(ValidationError) as error:
        factories.make_version(model=risk_model, by=people.dana, **fields)
    assert field in error.value.message_dict
    assert not ModelVersion.objects.exists()


def test_an_artifact_over_the_size_limit_is_refused(people, risk_model, settings):
    settings.SIGNOFF_MAX_ARTIFACT_BYTES = 10
    with pytest.raises(ValidationError, match="the limit is 10 bytes"):
        factories.make_version(model=risk_model, by=people.dana, artifact=factories.artifact(b"x" * 11))
    assert not ModelVersion.objects.exists()


def test_people_without_the_data_scientist_role_cannot_add_versions(people, risk_model):
    for person in (people.mona, people.quinn, people.gina):
        with pytest.raises(PermissionDenied):
            factories.make_version(model=risk_model, by=person)
    assert not ModelVersion.objects.exists()
