"""Evaluation datasets (registered through the API, read in the sandbox) and the re-evaluation
check that measures a real scikit-learn model on one."""

import io
import json
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from sklearn.linear_model import LogisticRegression

from audit.models import AuditEvent
from evidence.checks.evidence import Fairness, Reevaluate, SchemaCompatibility
from evidence.checks.inputs import check_input
from evidence.models import EvaluationDataset, JobKind
from jobs import runner as jobs
from jobs.models import Job
from tests import factories

FEATURES = ["income", "debt_ratio", "age"]


def holdout(rows=400, seed=7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.random((rows, 3)), columns=FEATURES)
    frame["defaulted"] = (frame["debt_ratio"] - frame["income"] + rng.normal(0, 0.2, rows) > 0).astype(int)
    frame["region"] = np.where(frame["age"] > 0.5, "north", "south")
    return frame


def trained_bundle() -> bytes:
    train = holdout(rows=600, seed=3)
    model = LogisticRegression().fit(train[FEATURES], train["defaulted"])
    buffer = io.BytesIO()
    joblib.dump({"model": model, "features": FEATURES}, buffer)
    return buffer.getvalue()


def csv_file(frame=None, name="holdout.csv"):
    return SimpleUploadedFile(name, (frame if frame is not None else holdout()).to_csv(index=False).encode())


def register(api, user, model_name="credit-risk", **fields):
    """Upload as ``user`` (202: accepted, being read) and read it as the worker would; the
    response's ``dataset`` is what polling its url shows then."""
    body = {"file": csv_file(), "name": "holdout-2026q3", "target_column": "defaulted", **fields}
    response = api(user).post(f"/api/models/{model_name}/datasets/", body, format="multipart")
    if response.status_code == 202:
        read_uploads()
        response.dataset = api(user).get(response["Location"]).json()
    return response


def read_uploads():
    """What the worker does with each upload waiting to be read."""
    for job in Job.objects.filter(kind=JobKind.PROFILE_DATASET, status=Job.Status.PENDING):
        jobs.job_run(job.pk, retry_inline=True)


def test_a_csv_dataset_is_accepted_then_read_by_the_worker_with_its_schema_and_hash(people, api, risk_model):
    response = api(people.dana).post(
        "/api/models/credit-risk/datasets/",
        {"file": csv_file(), "name": "holdout-2026q3", "target_column": "defaulted", "sensitive_columns": '["region"]'},
        format="multipart",
    )

    assert response.status_code == 202, response.content
    accepted = response.json()
    assert (accepted["status"], accepted["row_count"], accepted["url"]) == (
        "profiling",
        None,
        "/api/models/credit-risk/datasets/holdout-2026q3/",
    )
    assert response["Location"] == accepted["url"]
    assert AuditEvent.objects.filter(verb="dataset.uploaded", actor=people.dana).count() == 1
    assert Job.objects.get(kind=JobKind.PROFILE_DATASET).status == Job.Status.PENDING

    read_uploads()
    body = api(people.dana).get(accepted["url"]).json()
    assert (body["status"], body["row_count"], body["format"]) == ("ready", 400, "csv")
    assert [c["name"] for c in body["columns"]] == [*FEATURES, "defaulted", "region"]
    assert body["sensitive_columns"] == ["region"] and len(body["sha256"]) == 64 and body["profiled_at"]
    registered = AuditEvent.objects.get(verb="dataset.registered", model=risk_model)
    assert registered.actor == people.dana and registered.data["rows"] == 400
    listed = api(people.mona).get("/api/models/credit-risk/datasets/").json()["results"]
    assert [(d["name"], d["status"]) for d in listed] == [("holdout-2026q3", "ready")]
    assert api(people.gary).get(accepted["url"]).status_code == 404  # another team's model
    assert api(people.dana).get("/api/models/credit-risk/datasets/nope/").status_code == 404


def test_a_parquet_dataset_is_registered(people, api, risk_model):
    buffer = io.BytesIO()
    holdout().to_parquet(buffer)
    response = register(api, people.dana, file=SimpleUploadedFile("holdout.parquet", buffer.getvalue()))
    assert response.status_code == 202, response.content
    assert (response.dataset["status"], response.dataset["format"], response.dataset["row_count"]) == (
        "ready",
        "parquet",
        400,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"target_column": "churned"}, "No column called 'churned'"),
        ({"sensitive_columns": json.dumps(["gender"])}, "No column called 'gender'"),
        ({"file": SimpleUploadedFile("holdout.csv", b"\xff\xfe\x00\x01 not text")}, "not UTF-8"),
        ({"file": SimpleUploadedFile("holdout.parquet", b"PAR1 not really")}, "could not be read as Parquet"),
        ({"file": SimpleUploadedFile("holdout.txt", b"a,b\n1,2\n")}, "Upload a .csv or .parquet file"),
        ({"file": SimpleUploadedFile("holdout.csv", b"defaulted\n")}, "holds no rows"),
        ({"file": SimpleUploadedFile("holdout.csv", b"defaulted," * 1001 + b"\n1\n")}, "the limit is 1,000"),
        ({"file": SimpleUploadedFile("holdout.csv", b"x" * (1024 * 1024 + 1))}, "header line is longer"),
        ({"name": "bad name!"}, "name"),
        ({"sensitive_columns": json.dumps("region")}, "list of column names"),
    ],
)
def test_what_the_first_bytes_show_is_refused_at_once_and_nothing_is_written(people, api, risk_model, fields, message):
    response = register(api, people.dana, **fields)
    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json())
    assert not EvaluationDataset.objects.exists() and not Job.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="dataset.").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'defaulted,income\n1,2,3,4\n"unclosed\n', "could not be read"),
        (b"PAR1" + b"\x00" * 40 + b"PAR1", "could not be read"),
    ],
)
def test_what_only_reading_shows_refuses_the_dataset_and_frees_its_name(
    people, api, risk_model, content, message, django_capture_on_commit_callbacks
):
    name = "holdout.parquet" if content.startswith(b"PAR1") else "holdout.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = register(api, people.dana, file=SimpleUploadedFile(name, content))
    assert response.status_code == 202, response.content
    assert response.dataset["status"] == "refused" and message in response.dataset["problem"]
    dataset = EvaluationDataset.objects.get()
    assert not dataset.file.storage.exists(dataset.file.name)  # the bytes are not kept
    refused = AuditEvent.objects.get(verb="dataset.refused")
    assert refused.actor == people.dana and message in refused.data["problem"]
    assert not AuditEvent.objects.filter(verb="dataset.registered").exists()

    again = register(api, people.dana)  # the name is free for a readable file
    assert again.status_code == 202 and again.dataset["status"] == "ready"


def test_limits_on_size_and_rows(people, api, risk_model, settings):
    settings.SIGNOFF_MAX_DATASET_ROWS = 100
    too_long = register(api, people.dana)
    assert too_long.dataset["status"] == "refused" and "more than 100 rows" in too_long.dataset["problem"]
    settings.SIGNOFF_MAX_DATASET_BYTES = 1000
    assert "the limit is 1,000" in json.dumps(register(api, people.dana, name="other").json())
    assert EvaluationDataset.objects.get().status == EvaluationDataset.Status.REFUSED


def test_an_uploader_has_a_bounded_number_of_datasets_being_read(people, api, risk_model, settings):
    settings.SIGNOFF_MAX_DATASETS_BEING_READ = 2
    client = api(people.dana)

    def upload(name):
        body = {"file": csv_file(), "name": name, "target_column": "defaulted"}
        return client.post("/api/models/credit-risk/datasets/", body, format="multipart")

    assert [upload(name).status_code for name in ("a", "b")] == [202, 202]
    busy = upload("c")
    assert busy.status_code == 429 and "2 datasets being read already" in busy.json()["detail"]
    assert not EvaluationDataset.objects.filter(name="c").exists()
    assert register(api, people.quinn, name="c").status_code == 202  # someone else's uploads are theirs

    read_uploads()
    assert upload("d").status_code == 202


def test_names_are_unique_per_model_and_only_data_scientists_with_access_register(people, api, risk_model):
    assert register(api, people.dana).status_code == 202
    assert "already has a dataset" in json.dumps(register(api, people.dana).json())
    assert register(api, people.mona, name="other").status_code == 403
    assert register(api, people.gary, name="other").status_code == 404  # another team's model is invisible
    assert api(people.gary).get("/api/models/credit-risk/datasets/").status_code == 404


def version_with(people, risk_model, artifact: bytes, name="credit.joblib", **metrics):
    return factories.make_version(
        model=risk_model,
        by=people.dana,
        artifact=factories.artifact(artifact, name=name),
        metrics=metrics or {"accuracy": 0.5},
    )


def measured_accuracy(people, api, risk_model) -> float:
    """What the model really scores on the hold-out (computed here, independently of Signoff)."""
    bundle = joblib.load(io.BytesIO(trained_bundle()))
    frame = holdout()
    return float((bundle["model"].predict(frame[FEATURES]) == frame["defaulted"]).mean())


def test_reevaluation_measures_the_model_and_accepts_honest_claims(people, api, risk_model):
    assert register(api, people.dana).status_code == 202
    accuracy = measured_accuracy(people, api, risk_model)
    version = version_with(people, risk_model, trained_bundle(), accuracy=round(accuracy, 3))

    outcome = Reevaluate().run(check_input(version), {})

    assert outcome.passed, outcome.summary
    assert outcome.details["metrics"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert set(outcome.details["metrics"]) >= {"precision", "recall", "f1", "roc_auc", "log_loss", "brier"}
    assert np.array(outcome.details["confusion_matrix"]).sum() == 400
    assert outcome.details["roc_curve"][0] == [0.0, 0.0] and outcome.details["roc_curve"][-1] == [1.0, 1.0]
    assert outcome.details["dataset"]["name"] == "holdout-2026q3"


def test_reevaluation_fails_inflated_claims(people, api, risk_model):
    assert register(api, people.dana).status_code == 202
    version = version_with(people, risk_model, trained_bundle(), accuracy=0.99, roc_auc=0.999)

    outcome = Reevaluate().run(check_input(version), {"tolerance": 0.02})

    assert not outcome.passed
    assert "accuracy reported 0.99, measured" in outcome.summary
    assert outcome.details["compared"]["accuracy"]["reported"] == 0.99


def test_reevaluation_without_a_dataset_says_how_to_register_one(people, risk_model):
    outcome = Reevaluate().run(check_input(version_with(people, risk_model, trained_bundle())), {})
    assert not outcome.passed
    assert "POST /api/models/credit-risk/datasets/" in outcome.summary


def test_reevaluation_never_loads_an_unsafe_or_foreign_artifact(people, api, risk_model, tmp_path):
    assert register(api, people.dana).status_code == 202
    marker = tmp_path / "pwned"
    trap = b"cposix\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."
    refused = Reevaluate().run(check_input(version_with(people, risk_model, trap, name="credit.pkl")), {})
    assert not refused.passed and "was not loaded" in refused.summary and "posix.system" in refused.summary
    assert not marker.exists()
    with pytest.raises(ValidationError, match="reads this file"):  # registration refuses a plain text
        version_with(people, risk_model, b"just a README", name="README.md")
    # one that looks like a pickle to registration is still never trusted by the check
    text = Reevaluate().run(check_input(version_with(people, risk_model, b"(just a README", name="README.md")), {})
    assert not text.passed and "was not loaded" in text.summary
    plain = Reevaluate().run(check_input(version_with(people, risk_model, pickle.dumps({"weights": [1]}))), {})
    assert not plain.passed and "could not be evaluated" in plain.summary


def test_the_model_page_lists_datasets_and_registers_one(people, client, risk_model):
    client.force_login(people.dana)
    page = client.get("/models/credit-risk/").content.decode()
    assert "No evaluation dataset yet" in page

    response = client.post(
        "/models/credit-risk/datasets/new/",
        {"file": csv_file(), "name": "holdout", "target_column": "defaulted", "sensitive_columns": "region"},
    )
    assert response.status_code == 302
    page = client.get("/models/credit-risk/").content.decode()
    assert "Signoff is reading it" in page and "Being read" in page and "<code>region</code>" in page
    assert 'data-live-url="/models/credit-risk/datasets/"' in page  # the table polls until it is read

    read_uploads()
    table = client.get("/models/credit-risk/datasets/", headers={"HX-Request": "true"}).content.decode()
    assert "holdout" in table and "<td>400 " in table and "Being read" not in table and "data-live-url" not in table
    assert client.get("/models/credit-risk/datasets/").status_code == 302  # not a page of its own

    refused = client.post(
        "/models/credit-risk/datasets/new/", {"file": csv_file(), "name": "other", "target_column": "nope"}
    )
    assert refused.status_code == 400
    assert "No column called &#x27;nope&#x27;" in refused.content.decode()
    assert EvaluationDataset.objects.count() == 1

    client.force_login(people.mona)  # a manager sees the datasets but registers none
    assert "Register dataset" not in client.get("/models/credit-risk/").content.decode()
    assert client.post("/models/credit-risk/datasets/new/", {}).status_code == 403


def test_fairness_reports_groups_and_passes_within_the_limits(people, api, risk_model):
    frame = holdout(rows=2000, seed=11)
    frame["region"] = np.random.default_rng(5).choice(["north", "south"], len(frame))  # independent of outcome
    body = {"file": csv_file(frame), "sensitive_columns": json.dumps(["region"])}
    assert register(api, people.dana, **body).status_code == 202
    version = version_with(people, risk_model, trained_bundle())

    outcome = Fairness().run(
        check_input(version), {"max_demographic_parity_difference": 0.2, "max_equalized_odds_difference": 0.2}
    )

    assert outcome.passed, outcome.summary
    assert set(outcome.details["groups"]) == {"north", "south"}
    assert sum(group["count"] for group in outcome.details["groups"].values()) == 2000
    assert {"selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"} <= set(
        outcome.details["groups"]["north"]
    )
    assert 0 <= outcome.details["demographic_parity_difference"] < 0.2


def test_fairness_fails_a_gap_between_groups(people, api, risk_model):
    frame = holdout(rows=1000, seed=13)
    frame["region"] = np.where(frame["debt_ratio"] > frame["income"], "east", "west")  # tracks the predictions
    assert register(api, people.dana, file=csv_file(frame), sensitive_columns=json.dumps(["region"])).status_code == 202

    outcome = Fairness().run(check_input(version_with(people, risk_model, trained_bundle())), {})

    assert not outcome.passed
    assert "Across region: demographic parity difference" in outcome.summary
    assert outcome.details["demographic_parity_difference"] > 0.5
    assert outcome.details["limits"] == {"demographic_parity_difference": 0.1, "equalized_odds_difference": 0.1}


def test_fairness_needs_a_sensitive_column(people, api, risk_model):
    assert register(api, people.dana).status_code == 202  # no sensitive_columns
    outcome = Fairness().run(check_input(version_with(people, risk_model, trained_bundle())), {})
    assert not outcome.passed and "names no sensitive column" in outcome.summary


def test_dataset_checks_validate_their_configuration():
    assert Fairness.config_errors({"max_demographic_parity_difference": 2}) == [
        "'max_demographic_parity_difference' must be a number between 0 and 1, not 2"
    ]
    assert Reevaluate.config_errors({"tolerance": "small", "datasets": "x"}) == [
        "'tolerance' must be a number between 0 and 1, not 'small'",
        "unknown keys: datasets",
    ]


def bundle_of(features: list[str]) -> bytes:
    train = holdout(rows=300, seed=3)
    train["tenure"] = train["age"] * 10
    model = LogisticRegression().fit(train[features], train["defaulted"])
    buffer = io.BytesIO()
    joblib.dump({"model": model, "features": features}, buffer)
    return buffer.getvalue()


def test_schema_compatibility_against_the_dataset_and_production(people, api, risk_model):
    from registry.services import model_version_set_stage

    assert register(api, people.dana).status_code == 202
    production = version_with(people, risk_model, bundle_of(FEATURES))
    with transaction.atomic():
        model_version_set_stage(version=production, stage="production")

    same = SchemaCompatibility().run(check_input(version_with(people, risk_model, bundle_of(FEATURES))), {})
    assert same.passed, same.summary
    assert same.details["removed"] == [] and same.details["dtypes"]["income"] == "float64"

    dropped = SchemaCompatibility().run(
        check_input(version_with(people, risk_model, bundle_of(["income", "debt_ratio"]))), {}
    )
    assert not dropped.passed
    assert f"v{production.number} (production) used age, dropped here" in dropped.summary

    unknown = SchemaCompatibility().run(
        check_input(version_with(people, risk_model, bundle_of([*FEATURES, "tenure"]))), {}
    )
    assert not unknown.passed and "the dataset lacks tenure" in unknown.summary
    assert unknown.details["added"] == ["tenure"]


EVIDENCE_WORKFLOW = """
name: evidence
steps:
  - name: automated_checks
    type: checks
    title: Automated checks
    checks:
      - type: pickle_scan
      - type: reevaluate
        tolerance: 0.05
      - type: fairness
        max_demographic_parity_difference: 0.3
        max_equalized_odds_difference: 0.3
      - type: schema_compatibility
  - name: manager_review
    type: approval
    title: Manager review
    approvers: [manager]
"""


@pytest.fixture
def evidence_workflow(use_workflow):
    use_workflow(EVIDENCE_WORKFLOW)


def test_the_evidence_api_shows_what_the_workers_measured(people, api, risk_model, background, evidence_workflow):
    from approvals import services

    frame = holdout(rows=1000, seed=17)
    frame["region"] = np.random.default_rng(2).choice(["north", "south"], len(frame))
    assert register(api, people.quinn, file=csv_file(frame), sensitive_columns='["region"]').status_code == 202
    accuracy = measured_accuracy(people, api, risk_model)
    version = version_with(people, risk_model, trained_bundle(), accuracy=round(accuracy, 2))
    with background():
        request = services.promotion_request_submit(version=version, actor=people.dana)

    evidence = api(people.mona).get(f"/api/models/credit-risk/versions/{version.number}/evidence/").json()

    statuses = {check["check_type"]: check["status"] for check in evidence["checks"]}
    assert statuses == {
        "pickle_scan": "passed",
        "reevaluate": "passed",
        "fairness": "passed",
        "schema_compatibility": "passed",
    }, evidence["checks"]
    assert evidence["reported"]["accuracy"] == round(accuracy, 2)
    assert set(evidence["measured"]["metrics"]) >= {"accuracy", "roc_auc", "log_loss"}
    assert set(evidence["fairness"]["groups"]) == {"north", "south"}
    assert evidence["schema"]["features"] == FEATURES
    request.refresh_from_db()
    assert request.current_step.name == "manager_review"
    assert api(people.gary).get(f"/api/models/credit-risk/versions/{version.number}/evidence/").status_code == 404


@pytest.mark.parametrize(
    "fields",
    [
        {"target_column": "defa\x00ulted"},
        {"description": "held\x00out"},
        {"sensitive_columns": json.dumps(["reg\ud800ion"])},
        {"sensitive_columns": "[" * 100 + "]" * 100},
        {"sensitive_columns": "[1e400]"},
        {"name": "../../etc"},
    ],
)
def test_hostile_dataset_input_is_a_400_that_writes_nothing(people, api, risk_model, fields):
    response = register(api, people.dana, **fields)
    assert response.status_code == 400, response.content
    assert not EvaluationDataset.objects.exists()


def checks_of(request) -> dict:
    from approvals.models import CheckRun

    return {run.check_type: run for run in CheckRun.objects.filter(step__request=request)}


def test_a_dataset_the_author_registers_before_submitting_is_not_the_evidence(
    people, api, client, risk_model, background, evidence_workflow
):
    from approvals import services

    assert register(api, people.quinn).status_code == 202  # QA's hold-out
    flattering = holdout(rows=400, seed=99)
    flattering["defaulted"] = 0  # what the author would like to be judged on
    assert register(api, people.dana, name="convenient", file=csv_file(flattering)).status_code == 202
    version = version_with(people, risk_model, trained_bundle(), accuracy=0.5)
    with background():
        request = services.promotion_request_submit(version=version, actor=people.dana)

    request.refresh_from_db()
    assert request.dataset.name == "holdout-2026q3" and request.dataset.created_by == people.quinn
    assert checks_of(request)["reevaluate"].result["dataset"]["name"] == "holdout-2026q3"
    client.force_login(people.mona)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert "Evidence: dataset <strong>holdout-2026q3</strong>" in page and "registered by quinn" in page


def test_a_dataset_registered_after_submission_changes_no_open_request(
    people, api, risk_model, background, evidence_workflow
):
    from approvals import services

    assert register(api, people.quinn).status_code == 202
    version = version_with(people, risk_model, trained_bundle(), accuracy=0.5)
    with background():  # the checks run when this block ends: after the newer dataset exists
        request = services.promotion_request_submit(version=version, actor=people.dana)
        assert register(api, people.quinn, name="newer", file=csv_file(holdout(rows=300, seed=3))).status_code == 202

    request.refresh_from_db()
    assert request.dataset.name == "holdout-2026q3"
    assert checks_of(request)["reevaluate"].result["dataset"]["name"] == "holdout-2026q3"


def test_only_datasets_of_the_authors_means_no_evidence(people, api, risk_model, background, evidence_workflow):
    from approvals import services

    assert register(api, people.dana).status_code == 202
    with background():
        request = services.promotion_request_submit(
            version=version_with(people, risk_model, trained_bundle()), actor=people.dana
        )
    request.refresh_from_db()
    assert request.dataset is None and request.status == "checks_failed"
    assert "has no evaluation dataset" in checks_of(request)["reevaluate"].summary


def test_a_named_dataset_of_the_author_or_not_the_pinned_bytes_fails(people, api, risk_model, use_workflow, background):
    from approvals import services

    assert register(api, people.dana, name="mine").status_code == 202
    assert register(api, people.quinn, name="theirs").status_code == 202
    use_workflow(
        EVIDENCE_WORKFLOW.replace("tolerance: 0.05", "tolerance: 0.05\n        dataset: mine").replace(
            "max_equalized_odds_difference: 0.3",
            "max_equalized_odds_difference: 0.3\n        dataset: theirs\n        dataset_sha256: '" + "0" * 64 + "'",
        )
    )
    with background():
        request = services.promotion_request_submit(
            version=version_with(people, risk_model, trained_bundle()), actor=people.dana
        )
    runs = checks_of(request)
    assert "registered by an author of this version" in runs["reevaluate"].summary
    assert "not the one the workflow pins" in runs["fairness"].summary


def test_a_data_analyst_registers_datasets_and_a_manager_does_not(people, api, risk_model):
    assert register(api, people.quinn).status_code == 202
    response = register(api, people.mona, name="other")
    assert response.status_code == 403 and "data analysts" in response.json()["detail"]


def test_a_nul_in_a_column_name_is_a_400_and_stores_nothing(people, api, risk_model, settings):
    from pathlib import Path

    from evidence.models import EvaluationDataset

    stored = Path(settings.MEDIA_ROOT) / "datasets"
    before = sorted(stored.rglob("*")) if stored.exists() else []
    body = b"feature\x00one,defaulted\n1,0\n2,1\n"
    response = register(api, people.quinn, file=SimpleUploadedFile("holdout.csv", body))
    assert response.status_code == 400 and "NUL" in json.dumps(response.json())
    assert not EvaluationDataset.objects.exists()
    assert (sorted(stored.rglob("*")) if stored.exists() else []) == before


def test_the_group_table_is_fairlearns_on_every_row():
    """group_table hands fairlearn the (truth, prediction, group) cells weighted by their rows:
    the figures are those of fairlearn over the rows themselves."""
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    from evidence.sandbox.evaluation import group_table

    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 5000)
    predicted = np.where(rng.random(5000) < 0.8, labels, 1 - labels)
    groups = rng.choice(["north", "south", "east"], 5000).astype(object)
    table = group_table(labels, predicted, groups)

    metrics = {"selection_rate": selection_rate, "true_positive_rate": true_positive_rate,
               "false_positive_rate": false_positive_rate, "accuracy": accuracy_score}  # fmt: skip
    expected = MetricFrame(metrics=metrics, y_true=labels, y_pred=predicted, sensitive_features=groups).by_group
    for group, row in expected.iterrows():
        assert table["groups"][group] == pytest.approx({**row.to_dict(), "count": int((groups == group).sum())})
    assert table["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(labels, predicted, sensitive_features=groups), abs=1e-6
    )
    assert table["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(labels, predicted, sensitive_features=groups), abs=1e-6
    )


@pytest.mark.parametrize("name", ["%00", "%ED%A0%80", "a" * 1_000_000, "..%2F..%2Fetc", "1e400", "9" * 400])
def test_the_dataset_addresses_refuse_hostile_names_with_a_4xx(people, api, risk_model, client, name):
    assert register(api, people.dana).status_code == 202
    assert api(people.dana).get(f"/api/models/credit-risk/datasets/{name}/").status_code in (400, 404)
    client.force_login(people.dana)
    assert client.get(f"/models/{name}/datasets/", headers={"HX-Request": "true"}).status_code in (400, 404)
