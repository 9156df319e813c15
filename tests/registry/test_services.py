"""Registering models and versions: who may, and what input is refused."""

import gzip
import hashlib
import io
import pickle
import zipfile
import zlib

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
    first = factories.make_version(model=risk_model, by=people.dana, artifact=factories.artifact(b"(abc"))
    second = factories.make_version(model=risk_model, by=people.dana)
    other = factories.make_version(model=growth_model, by=people.gina)

    assert (first.number, second.number, other.number) == (1, 2, 1)
    assert first.artifact_sha256 == hashlib.sha256(b"(abc").hexdigest()
    assert first.artifact_size == 4


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


@pytest.mark.parametrize(
    "content, name, problem",
    [
        (b"accuracy,recall\n0.9,0.5\n", "model.joblib", "reads this file"),
        (b"\x89HDF\r\n\x1a\n" + b"\x00" * 100, "model.h5", "reads this file"),
        (b'{"weights": [1, 2]}', "model.json", "reads this file"),
        (None, "model.pt", "zip archive but not a skops file"),  # a PyTorch checkpoint is a zip
        (b"\x04\x22\x4d\x18" + b"\x00" * 20, "model.joblib", "compressed with lz4"),
    ],
)
def test_a_file_no_loader_can_read_is_refused_at_registration(people, risk_model, content, name, problem):
    if content is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("archive/data.pkl", pickle.dumps({"w": 1}))
        content = buffer.getvalue()
    with pytest.raises(ValidationError, match=problem):
        factories.make_version(model=risk_model, by=people.dana, artifact=factories.artifact(content, name=name))
    assert not ModelVersion.objects.exists()


def test_every_format_a_loader_reads_is_accepted(people, risk_model):
    skops_file = io.BytesIO()
    with zipfile.ZipFile(skops_file, "w") as archive:
        archive.writestr("schema.json", "{}")
    accepted = [
        pickle.dumps({"w": 1}, protocol=0),  # starts with "(" (protocol 0)
        pickle.dumps({"w": 1}, protocol=5),
        zlib.compress(pickle.dumps({"w": 1})),  # joblib's zlib compression
        gzip.compress(pickle.dumps({"w": 1})),
        skops_file.getvalue(),
        b"\x08\x07" + b"\x00" * 10,  # an ONNX graph's first field: its IR version
    ]
    for content in accepted:
        factories.make_version(model=risk_model, by=people.dana, artifact=factories.artifact(content))
    assert ModelVersion.objects.count() == len(accepted)
