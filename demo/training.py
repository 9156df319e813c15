"""Real scikit-learn models for the demo, trained on seeded synthetic tabular data.

Each demo model has a data generator with named features and a list of versions (estimator
and hyperparameters). Metrics are computed on a held-out split; the fitted estimator is
serialized with joblib (or skops) and becomes the version's artifact.
"""

import io
from dataclasses import dataclass

import joblib
import numpy as np
import skops.io as skops_io
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ESTIMATORS = {
    "logistic_regression": lambda params: make_pipeline(StandardScaler(), LogisticRegression(**params)),
    "random_forest": lambda params: RandomForestClassifier(random_state=7, n_jobs=1, **params),
    "gradient_boosting": lambda params: GradientBoostingClassifier(random_state=7, **params),
}


def credit_applications(rng, n):
    income = rng.lognormal(10.8, 0.5, n)
    debt_ratio = rng.beta(2, 5, n)
    age = rng.integers(21, 75, n)
    late_payments = rng.poisson(0.6, n)
    credit_lines = rng.integers(1, 15, n)
    logit = 3.5 * (-1.2 + 3.2 * debt_ratio + 0.9 * late_payments - 0.6 * (np.log(income) - 10.8) - 0.015 * (age - 40))
    default = rng.random(n) < 1 / (1 + np.exp(-logit))
    features = np.column_stack([income, debt_ratio, age, late_payments, credit_lines])
    return features, default.astype(int), ["income", "debt_ratio", "age", "late_payments", "credit_lines"]


def subscriber_activity(rng, n):
    tenure = rng.integers(1, 72, n)
    monthly_charges = rng.normal(70, 25, n).clip(15, 150)
    support_calls = rng.poisson(1.2, n)
    logins_30d = rng.poisson(12, n)
    contract_annual = rng.random(n) < 0.45
    logit = (
        0.4
        - 0.05 * tenure
        + 0.015 * (monthly_charges - 70)
        + 0.5 * support_calls
        - 0.08 * logins_30d
        - 1.3 * contract_annual
    )
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    features = np.column_stack([tenure, monthly_charges, support_calls, logins_30d, contract_annual])
    return (
        features,
        churned.astype(int),
        ["tenure_months", "monthly_charges", "support_calls", "logins_30d", "annual_contract"],
    )


def card_transactions(rng, n):
    amount = rng.lognormal(3.5, 1.0, n)
    hour = rng.integers(0, 24, n)
    distance_km = rng.exponential(20, n)
    merchant_risk = rng.beta(2, 8, n)
    card_present = rng.random(n) < 0.7
    night = (hour < 6).astype(float)
    logit = (
        -3.6
        + 0.35 * (np.log(amount) - 3.5)
        + 1.2 * night
        + 0.02 * distance_km
        + 4.0 * merchant_risk
        - 1.4 * card_present
    )
    fraud = rng.random(n) < 1 / (1 + np.exp(-logit))
    features = np.column_stack([amount, hour, distance_km, merchant_risk, card_present])
    return features, fraud.astype(int), ["amount", "hour", "distance_km", "merchant_risk", "card_present"]


@dataclass
class TrainedVersion:
    estimator: str
    params: dict
    metrics: dict[str, float]
    artifact: bytes
    features: list[str]
    fitted: object = None  # the estimator itself (MLflow logs it as its own flavour)


def train(
    generator,
    *,
    estimator: str,
    params: dict,
    seed: int,
    rows: int = 8000,
    without: tuple = (),
    bias=None,
    skops: bool = False,
) -> TrainedVersion:
    """Train one version on ``rows`` generated rows; metrics come from a 25 % held-out split.

    ``without`` leaves features out; ``bias(features, labels, names, rng)`` returns the labels a
    biased history would have recorded (the demo's fairness failure)."""
    rng = np.random.default_rng(seed)
    features, labels, names = generator(rng, rows)
    if bias is not None:
        labels = bias(features, labels, names, rng)
    if without:
        keep = [i for i, name in enumerate(names) if name not in without]
        features, names = features[:, keep], [names[i] for i in keep]
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.25, random_state=seed, stratify=labels
    )
    model = ESTIMATORS[estimator](params).fit(x_train, y_train)
    predicted = model.predict(x_test)
    scores = model.predict_proba(x_test)[:, 1]
    metrics = {
        "accuracy": accuracy_score(y_test, predicted),
        "precision": precision_score(y_test, predicted, zero_division=0),
        "recall": recall_score(y_test, predicted, zero_division=0),
        "f1": f1_score(y_test, predicted, zero_division=0),
        "roc_auc": roc_auc_score(y_test, scores),
    }
    buffer = io.BytesIO()
    if skops:
        buffer.write(skops_io.dumps({"model": model, "features": names}))
    else:
        joblib.dump({"model": model, "features": names}, buffer)
    return TrainedVersion(
        estimator=estimator,
        params=params,
        metrics={name: round(float(value), 4) for name, value in metrics.items()},
        artifact=buffer.getvalue(),
        features=names,
        fitted=model,
    )


def young_applicants_marked_as_defaulting(features, labels, names, rng):
    """Half the applicants under 30 recorded as defaulting whatever they did: a biased history."""
    young = features[:, names.index("age")] < 30
    return np.where(young & (rng.random(len(labels)) < 0.5), 1, labels)


def age_band(features, names, rng):
    return np.where(features[:, names.index("age")] < 30, "under-30", "30-plus")


def region(features, names, rng):
    return rng.choice(["north", "south"], len(features))


def holdout_csv(generator, *, target: str, segment=region, seed: int = 2026, rows: int = 2000) -> bytes:
    """A fresh sample of ``rows`` rows as CSV (feature columns, ``target``, and a ``segment``
    column to break metrics down by): the model's evaluation dataset in the demo."""
    rng = np.random.default_rng(seed)
    features, labels, names = generator(rng, rows)
    lines = [",".join([*names, target, "segment"])]
    segments = segment(features, names, rng)
    for row, label, segment in zip(features, labels, segments, strict=True):
        lines.append(",".join([*(f"{float(value):.6g}" for value in row), str(int(label)), segment]))
    return ("\n".join(lines) + "\n").encode()
