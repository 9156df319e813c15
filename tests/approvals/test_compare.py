"""The comparison page and API, the request page's evidence summary, and the evidence digest
each decision records."""

import io
import re

import joblib
import numpy as np
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from sklearn.linear_model import LogisticRegression

from approvals.models import Decision
from evidence import comparison
from registry.services import model_version_set_stage
from tests import factories
from tests.evidence.test_datasets import FEATURES, csv_file, holdout, register

COMPARE_WORKFLOW = """
name: compare
steps:
  - name: automated_checks
    type: checks
    title: Automated checks
    checks:
      - type: pickle_scan
      - type: reevaluate
        tolerance: 0.5
      - type: metric_threshold
        metric: accuracy
        min: 0.6
      - type: fairness
        max_demographic_parity_difference: 0.9
        max_equalized_odds_difference: 0.9
      - type: schema_compatibility
  - name: manager_review
    type: approval
    title: Manager review
    approvers: [manager]
"""


def bundle(features, c=1.0) -> bytes:
    train = holdout(rows=600, seed=3)
    model = LogisticRegression(C=c).fit(train[features], train["defaulted"])
    buffer = io.BytesIO()
    joblib.dump({"model": model, "features": features}, buffer)
    return buffer.getvalue()


def measured(content: bytes, frame) -> tuple[float, float]:
    """Accuracy and log loss of a bundle on ``frame``, computed here, apart from Signoff."""
    from sklearn.metrics import log_loss

    loaded = joblib.load(io.BytesIO(content))
    model, features = loaded["model"], loaded["features"]
    accuracy = float((model.predict(frame[features]) == frame["defaulted"]).mean())
    return accuracy, float(log_loss(frame["defaulted"], model.predict_proba(frame[features])[:, 1]))


@pytest.fixture
def dataset_frame(people, api, risk_model):
    frame = holdout(rows=800, seed=17)
    frame["region"] = np.random.default_rng(2).choice(["north", "south"], len(frame))
    response = register(api, people.quinn, file=csv_file(frame), sensitive_columns='["region"]')
    assert response.status_code == 202 and response.dataset["status"] == "ready", response.content
    return frame


@pytest.fixture
def measured_pair(people, risk_model, dataset_frame, submit, use_workflow):
    """credit-risk with a production version and a more regularised candidate, both measured by
    the workers; returns (production, candidate, candidate's request awaiting the manager,
    their artifacts' bytes)."""
    return make_pair(people, risk_model, submit, use_workflow)


def make_pair(people, risk_model, submit, use_workflow, cards=({}, {})):
    """``measured_pair``, with model cards written at registration (a submitted card is immutable)."""
    use_workflow(COMPARE_WORKFLOW)
    strong, weak = bundle(FEATURES), bundle(FEATURES, c=0.05)
    production = factories.make_version(
        model=risk_model, by=people.dana, artifact=factories.artifact(strong), metrics={"accuracy": 0.8},
        params={"C": 1.0, "max_iter": 200}, model_card=cards[0],
    )  # fmt: skip
    submit(production, people.dana)
    with transaction.atomic():
        model_version_set_stage(version=production, stage="production")
    candidate = factories.make_version(
        model=risk_model, by=people.dana, artifact=factories.artifact(weak), metrics={"accuracy": 0.9},
        params={"C": 0.05, "max_iter": 200}, model_card=cards[1],
    )  # fmt: skip
    request = submit(candidate, people.dana)
    return production, candidate, request, (strong, weak)


def metric_row(body, name):
    return next(row for row in body["metrics"] if row["name"] == name)


def test_the_comparison_api_measures_both_versions_and_knows_which_direction_is_better(
    people, api, risk_model, dataset_frame, measured_pair
):
    production, candidate, _, (strong, weak) = measured_pair
    response = api(people.mona).get(f"/api/models/credit-risk/compare/?v={candidate.number}&v={production.number}")
    assert response.status_code == 200, response.content
    body = response.json()

    assert body["baseline"] == production.number
    assert [v["number"] for v in body["versions"]] == [production.number, candidate.number]
    (prod_accuracy, prod_loss), (cand_accuracy, cand_loss) = (
        measured(strong, dataset_frame),
        measured(weak, dataset_frame),
    )
    names = [row["name"] for row in body["metrics"]]
    assert len(names) == len(set(names)) and {"accuracy", "roc_auc", "log_loss"} <= set(names)  # each metric once
    accuracy = metric_row(body, "accuracy")
    assert accuracy["gate"] == {"min": 0.6, "max": None, "source": "measured"}
    base, cand = accuracy["cells"]
    assert (base["reported"], cand["reported"]) == (0.8, 0.9)
    assert base["measured"] == pytest.approx(prod_accuracy, abs=1e-6)
    assert cand["measured"] == pytest.approx(cand_accuracy, abs=1e-6)
    assert cand["delta"] == pytest.approx(cand_accuracy - prod_accuracy, abs=1e-5)
    assert cand["better"] is (cand_accuracy > prod_accuracy)
    assert cand["gate_passed"] is (cand_accuracy >= 0.6)
    assert cand["headroom"] == pytest.approx(cand_accuracy - 0.6, abs=1e-5)  # how far inside the gate

    loss = metric_row(body, "log_loss")
    assert loss["lower_is_better"] is True
    assert loss["cells"][1]["delta"] == pytest.approx(cand_loss - prod_loss, abs=1e-5)
    assert loss["cells"][1]["better"] is (cand_loss < prod_loss)  # a smaller loss is the better one

    assert all(len(curve) > 2 for curve in body["curves"]["roc_curve"])
    assert body["confusion_matrices"][1]["rows"][0][0]["delta"] == (
        body["confusion_matrices"][1]["matrix"][0][0] - body["confusion_matrices"][0]["matrix"][0][0]
    )
    assert [set(f["groups"]) for f in body["fairness"]] == [{"north", "south"}] * 2
    assert body["schema"][1]["features"] == FEATURES and body["schema"][1]["removed"] == []
    params = {row["name"]: row for row in body["params"]}
    assert params["C"]["differs"] and params["C"]["values"] == [1.0, 0.05] and not params["max_iter"]["differs"]
    assert {check["check_type"] for check in body["versions"][1]["checks"]} >= {"reevaluate", "fairness"}


def test_the_comparison_page_shows_the_evidence_with_charts_and_a_differences_toggle(
    people, client, risk_model, measured_pair
):
    production, candidate, request, _ = measured_pair
    client.force_login(people.mona)
    url = f"/models/credit-risk/compare/?v={production.number}&v={candidate.number}"
    page = client.get(url).content.decode()

    assert page.count('<svg class="chart"') == 3 and "Data table" in page
    assert "baseline" in page and "log_loss" in page and "↓ better" in page
    assert 'class="num worse"' in page or 'class="num better"' in page
    assert "region = north" in page and ", ".join(FEATURES) in page
    assert '<th scope="row">max_iter</th>' in page
    only = client.get(url + "&diff=1").content.decode()
    assert '<th scope="row">max_iter</th>' not in only and '<th scope="row">C</th>' in only

    assert 'data-testid="decide"' not in page  # no request named: nothing to decide here
    with_form = client.get(url + f"&request={request.pk}").content.decode()
    assert 'data-testid="decide"' in with_form and 'name="evidence_digest"' in with_form
    client.force_login(people.quinn)  # a data analyst may not decide the manager's step
    assert 'data-testid="decide"' not in client.get(url + f"&request={request.pk}").content.decode()


def test_one_figure_per_cell_a_check_matrix_and_labelled_confusion_matrices(people, client, measured_pair):
    production, candidate, _request, _ = measured_pair
    client.force_login(people.mona)
    url = f"/models/credit-risk/compare/?v={production.number}&v={candidate.number}"
    page = client.get(url).content.decode()
    # measured by default: the candidate's accuracy cell reads the measured figure, not the 0.9 reported
    measured_row = re.search(r'<th scope="row">accuracy.*?</tr>', page, re.S).group(0)
    assert "<strong>0.9000</strong>" not in measured_row and 'aria-current="true">Measured' in page
    reported = client.get(url + "&numbers=reported").content.decode()
    reported_row = re.search(r'<th scope="row">accuracy.*?</tr>', reported, re.S).group(0)
    assert ">0.9000</td>" in reported_row and 'aria-current="true">Reported' in reported
    # the checks as one matrix: a row per check, a cell per version
    checks = re.search(r'data-testid="compare-checks">.*?</table>', page, re.S).group(0)
    assert checks.count("<tr>") == 1 + len(candidate.promotion_requests.get().steps.get(kind="checks").check_runs.all())
    assert checks.count('<th scope="col" class="num">v') == 2
    matrix = re.search(r'data-testid="confusion-matrix">.*?</table>', page, re.S).group(0)
    assert "predicted negative" in matrix and "actual positive" in matrix


def test_the_model_cards_are_compared_word_by_word(
    people, api, client, risk_model, dataset_frame, submit, use_workflow
):
    owner = "Credit risk analytics"
    cards = (
        {"limitations": "Weak on young applicants.", "owner": owner},
        {"limitations": "Weak on applicants under 25 and on thin files.", "owner": owner},
    )
    production, candidate, _, _ = make_pair(people, risk_model, submit, use_workflow, cards=cards)
    query = f"?v={production.number}&v={candidate.number}"
    body = api(people.mona).get(f"/api/models/credit-risk/compare/{query}").json()

    rows = {row["key"]: row for row in body["model_card"]}
    assert not rows["owner"]["differs"] and rows["owner"]["changes"] == [None, None]
    assert rows["limitations"]["differs"] and rows["limitations"]["changes"][0] is None  # the baseline
    changes = rows["limitations"]["changes"][1]
    assert "".join(c["text"] for c in changes if c["op"] != "insert") == "Weak on young applicants."
    assert (
        "".join(c["text"] for c in changes if c["op"] != "delete") == "Weak on applicants under 25 and on thin files."
    )
    assert {"op": "delete", "text": "young"} in changes

    client.force_login(people.mona)
    page = client.get(f"/models/credit-risk/compare/{query}").content.decode()
    assert (
        "<del>young</del>" in page
        and "<ins>under 25 and on thin files.</ins>" in page
        and f'<td class="card-text">{owner}</td>' in page
    )
    only = client.get(f"/models/credit-risk/compare/{query}&diff=1").content.decode()
    assert "<del>young</del>" in only and owner not in only


def test_long_card_texts_are_compared_line_by_line_and_unlike_ones_as_a_whole():
    lines = [f"Line {i}: the model was checked against segment {i} and found adequate." for i in range(150)]
    edited = [*lines[:70], "Line 70: weak on thin files.", *lines[71:]]
    before, after = "\n".join(lines), "\n".join(edited)

    changes = comparison.text_changes(before, after)  # 1,800 words each: too many to pair word by word

    assert [c for c in changes if c["op"] != "equal"] == [
        {"op": "delete", "text": lines[70] + "\n"}, {"op": "insert", "text": edited[70] + "\n"}
    ]  # fmt: skip
    assert "".join(c["text"] for c in changes if c["op"] != "insert") == before
    assert "".join(c["text"] for c in changes if c["op"] != "delete") == after
    unlike = comparison.text_changes("x\n" * 5000, "y\n" * 5000)  # 5,000 lines each: as a whole
    assert unlike == [{"op": "delete", "text": "x\n" * 5000}, {"op": "insert", "text": "y\n" * 5000}]


def test_without_production_the_oldest_chosen_is_the_baseline_and_baseline_switches_it(people, api, risk_model):
    versions = [factories.make_version(model=risk_model, by=people.dana, accuracy=a) for a in (0.8, 0.85, 0.9)]
    numbers = "&".join(f"v={v.number}" for v in versions)
    body = api(people.mona).get(f"/api/models/credit-risk/compare/?{numbers}").json()
    assert body["baseline"] == versions[0].number
    assert metric_row(body, "accuracy")["cells"][2]["delta"] == pytest.approx(0.1)
    assert metric_row(body, "accuracy")["cells"][2]["relative_delta"] == pytest.approx(0.125)

    body = api(people.mona).get(f"/api/models/credit-risk/compare/?{numbers}&baseline={versions[2].number}").json()
    assert body["baseline"] == versions[2].number
    assert metric_row(body, "accuracy")["cells"][0]["better"] is False


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("v=1", "Choose 2 to 6 different versions"),
        ("v=1&v=1", "Choose 2 to 6 different versions"),
        ("v=1,2,3,4,5,6,7", "Choose 2 to 6 different versions"),
        ("v=abc&v=1", "must be a version number"),
        ("v=1%00&v=2", "contains a NUL character"),
        ("v=1e400&v=2", "must be a version number"),
        (f"v={10**400}&v=2", "must be a version number"),
        ("v=%ED%A0%80&v=2", "must be a version number"),
        ("v=" + "1" * 2000 + "&v=2", "is longer than 1000 characters"),
        ("v=1&v=2&baseline=../../etc", "baseline must be a version number"),
    ],
)
def test_a_bad_selection_is_a_400_that_says_why(people, api, client, risk_model, query, message):
    for _ in range(2):
        factories.make_version(model=risk_model, by=people.dana)
    response = api(people.mona).get(f"/api/models/credit-risk/compare/?{query}")
    assert response.status_code == 400 and message in response.content.decode()
    client.force_login(people.mona)
    page = client.get(f"/models/credit-risk/compare/?{query}")
    assert page.status_code == 400 and message in page.content.decode()


def test_invisible_models_and_missing_versions_are_404(people, api, client, risk_model):
    for _ in range(2):
        factories.make_version(model=risk_model, by=people.dana)
    assert api(people.gary).get("/api/models/credit-risk/compare/?v=1&v=2").status_code == 404
    assert api(people.mona).get("/api/models/credit-risk/compare/?v=1&v=9").status_code == 404
    client.force_login(people.gary)
    assert client.get("/models/credit-risk/compare/?v=1&v=2").status_code == 404
    client.force_login(people.mona)
    assert client.get("/models/credit-risk/compare/").status_code == 200  # the version picker


def test_comparing_six_versions_costs_the_same_queries_as_two(people, client, risk_model, submit):
    versions = [factories.make_version(model=risk_model, by=people.dana) for _ in range(6)]
    for version in versions:
        submit(version, people.dana)
    client.force_login(people.mona)

    def queries(numbers, url="/models/credit-risk/compare/"):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url + "?" + "&".join(f"v={v.number}" for v in numbers))
        assert response.status_code == 200
        return len(captured)

    assert queries(versions[:2]) == queries(versions)
    assert queries(versions[:2], "/api/models/credit-risk/compare/") == queries(
        versions, "/api/models/credit-risk/compare/"
    )


def test_a_decision_records_the_evidence_its_reviewer_saw(people, client, risk_model, measured_pair):
    production, candidate, request, _ = measured_pair
    client.force_login(people.mona)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert 'data-testid="evidence"' in page and f"against production v{production.number}" in page
    assert 'data-testid="evidence-fairness"' in page and "demographic parity" in page
    shown = re.search(r'name="evidence_digest" value="([0-9a-f]{64})"', page).group(1)

    response = client.post(
        f"/requests/{request.pk}/decide/",
        {"verdict": "request_changes", "comment": "too regularised", "step": request.current_step_id,
         "evidence_digest": shown},
    )  # fmt: skip
    assert response.status_code == 302
    decision = Decision.objects.get(request=request)
    assert decision.evidence_digest == shown == comparison.digest(decision.evidence)
    assert decision.evidence["candidate"] == candidate.number and decision.evidence["baseline"] == production.number
    assert {row["name"] for row in decision.evidence["metrics"]} >= {"accuracy", "log_loss"}


def test_a_decision_on_evidence_that_changed_is_refused_and_writes_nothing(people, api, client, awaiting_manager):
    client.force_login(people.mona)
    response = client.post(
        f"/requests/{awaiting_manager.pk}/decide/",
        {"verdict": "approve", "step": awaiting_manager.current_step_id, "evidence_digest": "0" * 64},
    )
    assert (
        response.status_code == 400 and "The evidence changed since you opened the request" in response.content.decode()
    )
    assert not Decision.objects.exists()

    evidence = api(people.mona).get(f"/api/requests/{awaiting_manager.pk}/evidence/").json()
    stale = api(people.mona).post(
        f"/api/requests/{awaiting_manager.pk}/decisions/", {"decision": "approve", "evidence_digest": "f" * 64}
    )
    assert stale.status_code == 400 and not Decision.objects.exists()
    fresh = api(people.mona).post(
        f"/api/requests/{awaiting_manager.pk}/decisions/",
        {"decision": "approve", "evidence_digest": evidence["evidence_digest"]},
    )
    assert fresh.status_code == 201 and fresh.json()["evidence_digest"] == evidence["evidence_digest"]
    assert api(people.gary).get(f"/api/requests/{awaiting_manager.pk}/evidence/").status_code == 404
