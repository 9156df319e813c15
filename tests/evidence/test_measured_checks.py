"""Checks on what Signoff measured: thresholds on measured metrics, the regression check
against production, and the measurement each shares (stored once, audited)."""

import pytest
from django.db import transaction
from django.db.models import ProtectedError

from approvals.definitions import DefinitionError, parse_definition
from audit.models import AuditEvent
from evidence.checks.evidence import MetricThreshold, Reevaluate, RegressionVsProduction
from evidence.checks.inputs import check_input
from evidence.models import EvaluationDataset, Measurement
from registry.services import model_version_set_stage
from tests.approvals.test_compare import bundle
from tests.evidence.test_datasets import FEATURES, register, version_with


def make_production(people, risk_model, content):
    production = version_with(people, risk_model, content)
    with transaction.atomic():
        model_version_set_stage(version=production, stage="production")
    return production


def test_a_threshold_on_measured_metrics_ignores_what_the_author_claims(people, api, risk_model):
    assert register(api, people.quinn).status_code == 202
    inflated = version_with(people, risk_model, bundle(FEATURES), accuracy=0.99)
    config = {"metric": "accuracy", "min": 0.95}

    measured = MetricThreshold().run(check_input(inflated), config)
    reported = MetricThreshold().run(check_input(inflated), {**config, "source": "reported"})

    assert not measured.passed and "is below the minimum 0.95 (measured on holdout-2026q3)" in measured.summary
    assert measured.details["source"] == "measured" and measured.details["value"] < 0.95
    assert reported.passed and reported.details["value"] == 0.99


def test_without_a_dataset_a_threshold_reads_reported_metrics_unless_told_to_measure(people, risk_model):
    version = version_with(people, risk_model, bundle(FEATURES), accuracy=0.9)
    assert (
        MetricThreshold().run(check_input(version), {"metric": "accuracy", "min": 0.8}).details["source"] == "reported"
    )
    refused = MetricThreshold().run(check_input(version), {"metric": "accuracy", "min": 0.8, "source": "measured"})
    assert not refused.passed and "has no evaluation dataset" in refused.summary


def test_a_measurement_is_taken_once_shared_audited_and_pins_its_dataset(people, api, risk_model):
    assert register(api, people.quinn).status_code == 202
    version = version_with(people, risk_model, bundle(FEATURES), accuracy=0.8)

    Reevaluate().run(check_input(version), {"tolerance": 0.5})
    MetricThreshold().run(check_input(version), {"metric": "roc_auc", "min": 0.5})

    measurement = Measurement.objects.get(version=version)
    assert set(measurement.metrics) >= {"accuracy", "roc_auc", "log_loss"}
    assert measurement.details["rows"] == 400 and measurement.details["roc_curve"]
    assert AuditEvent.objects.filter(verb="version.measured", model=risk_model).count() == 1
    with pytest.raises(ProtectedError):  # a dataset a version was measured on stays as it was
        EvaluationDataset.objects.get(model=risk_model).delete()


def test_a_skops_artifact_is_measured_like_its_joblib_twin(people, api, risk_model):
    import io

    import joblib
    import skops.io

    assert register(api, people.quinn).status_code == 202
    twin = bundle(FEATURES)
    as_skops = skops.io.dumps(joblib.load(io.BytesIO(twin)))
    joblib_version = version_with(people, risk_model, twin)
    skops_version = version_with(people, risk_model, as_skops, name="credit.skops")

    outcomes = [
        Reevaluate().run(check_input(version), {"tolerance": 1.0}) for version in (joblib_version, skops_version)
    ]

    assert all(outcome.passed for outcome in outcomes), [outcome.summary for outcome in outcomes]
    assert outcomes[1].details["metrics"] == outcomes[0].details["metrics"]
    assert Measurement.objects.get(version=skops_version).details["features"] == FEATURES


def test_an_onnx_artifact_is_measured_like_its_joblib_twin(people, api, risk_model):
    import io

    import joblib

    from tests.evidence.test_sandbox import onnx_bytes

    assert register(api, people.quinn).status_code == 202
    twin = bundle(FEATURES)
    as_onnx = onnx_bytes(joblib.load(io.BytesIO(twin))["model"], FEATURES)
    outcomes = [
        Reevaluate().run(check_input(version_with(people, risk_model, content, name=name)), {"tolerance": 1.0})
        for content, name in ((twin, "credit.joblib"), (as_onnx, "credit.onnx"))
    ]

    assert all(outcome.passed for outcome in outcomes), [outcome.summary for outcome in outcomes]
    joblib_metrics, onnx_metrics = (outcome.details["metrics"] for outcome in outcomes)
    assert onnx_metrics.keys() == joblib_metrics.keys() and "roc_auc" in onnx_metrics
    assert onnx_metrics == pytest.approx(joblib_metrics, abs=1e-3)  # float32 inside the graph
    assert outcomes[1].details["features"] == FEATURES  # from the model's metadata


def test_regression_passes_with_a_note_when_nothing_is_in_production(people, risk_model):
    outcome = RegressionVsProduction().run(
        check_input(version_with(people, risk_model, bundle(FEATURES))), {"metric": "roc_auc"}
    )
    assert outcome.passed and "has no other version in production" in outcome.summary


def test_regression_against_production_knows_which_direction_is_worse(people, api, risk_model):
    assert register(api, people.quinn).status_code == 202
    production = make_production(people, risk_model, bundle(FEATURES))
    weaker = version_with(people, risk_model, bundle(["income", "age"]))  # without the telling feature

    by_auc = RegressionVsProduction().run(check_input(weaker), {"metric": "roc_auc", "max_drop": 0.01})
    by_loss = RegressionVsProduction().run(check_input(weaker), {"metric": "log_loss", "max_drop": 0.01})
    lenient = RegressionVsProduction().run(check_input(weaker), {"metric": "roc_auc", "max_drop": 1.0})

    assert not by_auc.passed and f"in production v{production.number}" in by_auc.summary
    assert by_auc.details["candidate"]["roc_auc"] < by_auc.details["production"]["roc_auc"]
    assert not by_loss.passed  # a higher log loss is the worse one
    assert by_loss.details["drop"] == pytest.approx(
        by_loss.details["candidate"]["log_loss"] - by_loss.details["production"]["log_loss"], abs=1e-6
    )
    assert lenient.passed and 0 < lenient.details["changed_share"] < 1
    same = RegressionVsProduction().run(
        check_input(version_with(people, risk_model, bundle(FEATURES))), {"metric": "roc_auc"}
    )
    assert same.passed and same.details["changed_share"] == 0


def test_regression_never_loads_an_unsafe_production_or_candidate_artifact(people, api, risk_model, tmp_path):
    assert register(api, people.quinn).status_code == 202
    marker = tmp_path / "pwned"
    trap = b"cposix\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."
    make_production(people, risk_model, bundle(FEATURES))
    refused = RegressionVsProduction().run(
        check_input(version_with(people, risk_model, trap, name="x.pkl")), {"metric": "roc_auc"}
    )
    assert not refused.passed and "was not loaded" in refused.summary and not marker.exists()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{type: regression_vs_production}", "'metric' must name the metric to compare"),
        ("{type: regression_vs_production, metric: auc, max_drop: -1}", "'max_drop' must be a number ≥ 0"),
        ("{type: metric_threshold, metric: accuracy, min: 0.8, source: guessed}", "'source' must be measured or"),
    ],
)
def test_measured_checks_validate_their_configuration(entry, message):
    text = f"name: x\nsteps:\n  - name: checks\n    type: checks\n    checks:\n      - {entry}\n"
    with pytest.raises(DefinitionError) as error:
        parse_definition(text)
    assert message in str(error.value) and "line 6" in str(error.value)
