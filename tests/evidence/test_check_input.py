"""A check is given plain data and returns plain data: these run without a database (any query
would fail the test) and without a request or workflow."""

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from evidence.checks import get_check
from evidence.checks.inputs import CheckInput, DatasetRef, StoredFile, VersionRef

ARTIFACT = StoredFile("models/x/v1.skops", "0" * 64)


def given(*, artifact=ARTIFACT, dataset=None, authors=(), **version):
    return CheckInput(
        model_id=1,
        model_name="credit-risk",
        version=VersionRef(id=7, number=3, artifact=artifact, **version),
        production=None,
        dataset=dataset,
        datasets=(dataset,) if dataset else (),
        author_ids=frozenset(authors),
    )


def test_a_threshold_on_reported_metrics_reads_only_its_input():
    check = get_check("metric_threshold")()
    config = {"metric": "accuracy", "min": 0.9, "source": "reported"}

    assert check.run(given(metrics={"accuracy": 0.93}), config).passed
    below = check.run(given(metrics={"accuracy": 0.81}), config)
    assert not below.passed and "accuracy = 0.81 is below the minimum 0.9 (reported)" in below.summary
    missing = check.run(given(metrics={}), config)
    assert not missing.passed and "No metric 'accuracy'" in missing.summary


def test_the_model_card_check_names_the_missing_fields():
    check = get_check("model_card")()
    outcome = check.run(
        given(model_card={"intended_use": "Scoring loan applications."}), {"require": ["intended_use", "owner"]}
    )
    assert not outcome.passed and outcome.details["missing"] == ["owner"]
    assert check.run(
        given(model_card={"intended_use": "x", "owner": "risk team"}), {"require": ["intended_use", "owner"]}
    ).passed


def test_a_dataset_an_author_registered_is_no_evidence():
    dataset = DatasetRef(
        id=4, name="holdout", file=StoredFile("datasets/holdout.csv", "1" * 64), format="csv",
        target_column="default", registered_by=42,
    )  # fmt: skip
    outcome = get_check("reevaluate")().run(given(dataset=dataset, authors={42}), {})
    assert not outcome.passed and "registered by an author of this version" in outcome.summary
    pinned = get_check("reevaluate")().run(given(dataset=dataset), {"dataset_sha256": "2" * 64})
    assert not pinned.passed and "not the one the workflow pins" in pinned.summary
    unnamed = get_check("reevaluate")().run(given(dataset=dataset), {"dataset": "other"})
    assert not unnamed.passed and "has no evaluation dataset called 'other'" in unnamed.summary


def test_integrity_reads_the_stored_bytes_against_the_recorded_digest(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    name = default_storage.save("models/credit-risk/model.skops", ContentFile(b"model bytes"))
    recorded = hashlib.sha256(b"model bytes").hexdigest()
    check = get_check("artifact_integrity")()

    assert check.run(given(artifact=StoredFile(name, recorded)), {}).passed
    tampered = check.run(given(artifact=StoredFile(name, "f" * 64)), {})
    assert not tampered.passed and tampered.details == {"expected": "f" * 64, "actual": recorded}
    gone = check.run(given(artifact=StoredFile("models/credit-risk/missing.skops", recorded)), {})
    assert not gone.passed and "missing from storage" in gone.summary


def test_the_input_cannot_be_changed_by_a_check():
    with pytest.raises(AttributeError):
        given().version = None


@pytest.mark.parametrize("check_type", ["reevaluate", "fairness", "schema_compatibility", "metric_threshold"])
def test_every_dataset_check_takes_a_pinned_dataset_and_refuses_a_malformed_pin(check_type):
    check = get_check(check_type)
    config = {"metric": "accuracy", "min": 0.8} if check_type == "metric_threshold" else {}
    assert check.config_errors({**config, "dataset": "holdout", "dataset_sha256": "a" * 64}) == []
    assert check.config_errors({**config, "dataset_sha256": "A" * 64}) == [
        "'dataset_sha256' must be the 64 lower-case hex digits of the dataset's SHA-256"
    ]
