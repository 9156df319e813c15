"""Sandbox tasks that read evaluation datasets and re-measure models on them.

Plain functions of a JSON payload and the sandbox directory; they never import Django. The
artifact is loaded only after the pickle scan of ``evidence.sandbox.tasks`` passed on it, in
this same process.
"""

import math
from pathlib import Path

from evidence.sandbox.tasks import scan_bytes


def _read(path: Path, file_format: str, max_rows: int, max_columns: int = 1000):
    """The file as a frame, its shape checked first: a Parquet file's metadata, a CSV's header
    line, before anything reads the rows."""
    import pandas as pd

    if file_format == "parquet":
        import pyarrow.parquet as pq

        metadata = pq.ParquetFile(path).metadata
        if metadata.num_columns > max_columns:
            raise ValueError(f"it has {metadata.num_columns:,} columns; the limit is {max_columns:,}")
        if metadata.num_rows > max_rows:
            raise ValueError(f"it has {metadata.num_rows:,} rows; the limit is {max_rows:,}")
        return pd.read_parquet(path)
    with open(path, "rb") as file:
        header = file.readline(1024 * 1024)
    if header.count(b",") + 1 > max_columns:
        raise ValueError(f"its header has more than {max_columns:,} columns, the limit")
    frame = pd.read_csv(path, nrows=max_rows + 1, encoding="utf-8")
    if len(frame) > max_rows:
        raise ValueError(f"it has more than {max_rows:,} rows, the limit")
    return frame


def missing_columns_problem(columns: list[str], needed: list[str]) -> str | None:
    """Which of the ``needed`` columns (target, sensitive) the file lacks, saying what it has; or None.
    Used by the web tier on a CSV's header and here on the file read whole."""
    missing = [name for name in needed if name not in columns]
    if missing:
        return f"No column called {', '.join(repr(m) for m in missing)}; it has {', '.join(columns[:30])}."
    return None


def profile_dataset(payload: dict, directory: Path) -> dict:
    """Rows, column names and types of an uploaded CSV or Parquet file, and whether the target
    and sensitive columns exist. ``{"ok": False, "error": …}`` says what is wrong."""
    try:
        frame = _read(directory / "dataset", payload["format"], payload["max_rows"], payload.get("max_columns", 1000))
    except (ValueError, UnicodeDecodeError, OSError, ImportError) as error:
        return {"ok": False, "error": f"The file could not be read as {payload['format'].upper()}: {error}."[:500]}
    except Exception as error:  # pyarrow and pandas raise many kinds on malformed files
        return {"ok": False, "error": f"The file could not be read: {type(error).__name__}."}
    columns = [str(name) for name in frame.columns]
    if frame.empty or not columns:
        return {"ok": False, "error": "The file holds no rows."}
    if len(set(columns)) != len(columns):
        return {"ok": False, "error": "Column names must be unique."}
    missing = missing_columns_problem(columns, [payload["target"], *payload.get("sensitive", [])])
    if missing:
        return {"ok": False, "error": missing}
    return {
        "ok": True,
        "rows": int(len(frame)),
        "columns": [{"name": name, "dtype": str(dtype)} for name, dtype in zip(columns, frame.dtypes, strict=True)],
    }


def _estimator_and_features(bundle, frame, target):
    model = bundle.get("model") if isinstance(bundle, dict) else bundle
    features = bundle.get("features") if isinstance(bundle, dict) else None
    if features is None and hasattr(model, "feature_names_in_"):
        features = [str(name) for name in model.feature_names_in_]
    if features is None:
        features = [name for name in frame.columns if name != target]
    return model, list(features)


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _points(xs, ys, limit=50) -> list[list[float]]:
    step = max(1, len(xs) // limit)
    picked = list(range(0, len(xs), step))
    if picked[-1] != len(xs) - 1:
        picked.append(len(xs) - 1)
    return [[round(float(xs[i]), 4), round(float(ys[i]), 4)] for i in picked]


def _classification(model, features, labels, predicted) -> dict:
    import numpy as np
    from sklearn import metrics

    result = {
        "accuracy": metrics.accuracy_score(labels, predicted),
        "precision": metrics.precision_score(labels, predicted, zero_division=0),
        "recall": metrics.recall_score(labels, predicted, zero_division=0),
        "f1": metrics.f1_score(labels, predicted, zero_division=0),
    }
    details = {"confusion_matrix": metrics.confusion_matrix(labels, predicted).tolist()}
    if hasattr(model, "predict_proba") and len(np.unique(labels)) == 2:
        scores = model.predict_proba(features)[:, 1]
        result["roc_auc"] = metrics.roc_auc_score(labels, scores)
        result["log_loss"] = metrics.log_loss(labels, scores)
        result["brier"] = metrics.brier_score_loss(labels, scores)
        fpr, tpr, _ = metrics.roc_curve(labels, scores)
        precision, recall, _ = metrics.precision_recall_curve(labels, scores)
        details["roc_curve"] = _points(fpr, tpr)
        details["pr_curve"] = _points(recall, precision)
        edges = np.linspace(0, 1, 11)
        bins = np.clip(np.digitize(scores, edges) - 1, 0, 9)
        details["calibration"] = [
            {"bin": round(float(edges[b]), 1), "predicted": _finite(scores[bins == b].mean()),
             "observed": _finite(np.asarray(labels)[bins == b].mean()), "count": int((bins == b).sum())}
            for b in range(10) if (bins == b).any()
        ]  # fmt: skip
    return {"metrics": {name: round(float(value), 6) for name, value in result.items()}, **details}


def _regression(model, features, labels, predicted) -> dict:
    from sklearn import metrics

    result = {
        "rmse": metrics.mean_squared_error(labels, predicted) ** 0.5,
        "mae": metrics.mean_absolute_error(labels, predicted),
        "r2": metrics.r2_score(labels, predicted),
    }
    return {"metrics": {name: round(float(value), 6) for name, value in result.items()}}


class NotEvaluated(Exception):
    """The model cannot be measured on the dataset; the message says why (the check fails)."""


def _load(payload: dict, directory: Path, name: str = "artifact"):
    """The bundle in file ``name``, read once into memory and built only by the scan that passes
    on it: a pickle or joblib file by the restricted reader (never ``joblib.load``), a skops file
    with the explicit list of trusted types the scan approved, an ONNX graph behind
    scikit-learn's calls."""
    data = (directory / name).read_bytes()
    scan, model = scan_bytes(data, payload.get(f"{name}_name", "model.joblib"), tuple(payload.get("allow", [])))
    file_format = scan["details"].get("format")
    if not scan["passed"] or file_format not in ("pickle", "skops", "onnx"):
        reason = scan["summary"] if not scan["passed"] else "it is not a skops, joblib, pickle or ONNX file"
        raise NotEvaluated(f"The {'artifact' if name == 'artifact' else name + ' artifact'} was not loaded: {reason}")
    try:
        if file_format == "skops":
            import skops.io

            return skops.io.loads(data, trusted=scan["details"]["trusted"])
        if file_format == "onnx":
            from evidence.sandbox.onnx_model import OnnxModel

            return OnnxModel(data)
        return model
    except Exception as error:  # a foreign artifact can fail in any way
        raise NotEvaluated(f"The model could not be loaded: {type(error).__name__}: {error}"[:400]) from None


def _frame(payload: dict, directory: Path):
    try:
        return _read(directory / "dataset", payload["format"], payload["max_rows"])
    except Exception as error:  # a foreign file can fail in any way
        raise NotEvaluated(f"The dataset could not be read: {type(error).__name__}: {error}"[:400]) from None


def _model_on(bundle, frame, payload):
    model, features = _estimator_and_features(bundle, frame, payload["target"])
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise NotEvaluated(f"The dataset lacks the model's features {', '.join(missing[:10])}.")
    return model, features


def _load_and_frame(payload: dict, directory: Path):
    """The artifact's estimator, its feature names and the dataset."""
    bundle = _load(payload, directory)
    frame = _frame(payload, directory)
    model, features = _model_on(bundle, frame, payload)
    return model, features, frame


def _failed(error: NotEvaluated) -> dict:
    return {"passed": False, "summary": str(error), "details": {}}


def _predict_error(error: Exception) -> NotEvaluated:
    return NotEvaluated(f"The model could not be evaluated on the dataset: {type(error).__name__}: {error}"[:400])


def _measured(model, inputs, labels):
    """The measurement of ``model`` on ``inputs``, and its predictions (each predicted once: the
    callers that need them too reuse them)."""
    import numpy as np

    classifier = hasattr(model, "classes_")
    try:
        predicted = np.asarray(model.predict(inputs))
        measured = (_classification if classifier else _regression)(model, inputs, labels, predicted)
    except Exception as error:  # any way a foreign model can fail to predict is the check's result
        raise _predict_error(error) from None
    task = "classification" if classifier else "regression"
    return {**measured, "task": task, "rows": int(len(labels))}, predicted


def measure(payload: dict, directory: Path) -> dict:
    """Load the artifact (after the pickle scan passed), predict on the dataset and compute the
    metrics, confusion matrix, curves and calibration bins, the per-group table of each
    sensitive column (``sensitive``), and the features the model reads."""
    try:
        model, features, frame = _load_and_frame(payload, directory)
        labels = frame[payload["target"]].to_numpy()
        details, predicted = _measured(model, frame[features], labels)
        details["features"] = [str(name) for name in features]
        details["fairness"] = {}
        if details["task"] == "classification":
            for column in payload.get("sensitive", []):
                if column in frame.columns:
                    groups = frame[column].astype(str).to_numpy()
                    details["fairness"][column] = group_table(labels, predicted, groups)
    except NotEvaluated as error:
        return _failed(error)
    shown = ", ".join(f"{n} {v:.3f}" for n, v in list(details["metrics"].items())[:4])
    return {"passed": True, "summary": f"Measured on {details['rows']:,} rows: {shown}.", "details": details}


def compare_to_baseline(payload: dict, directory: Path) -> dict:
    """The candidate (``artifact``) and the production version (``baseline``) measured on the
    same dataset, with the share of rows whose prediction changed."""
    import numpy as np

    try:
        frame = _frame(payload, directory)
        labels = frame[payload["target"]].to_numpy()
        results, predictions = {}, {}
        for name in ("artifact", "baseline"):
            model, features = _model_on(_load(payload, directory, name), frame, payload)
            measured, predictions[name] = _measured(model, frame[features], labels)
            results[name] = measured["metrics"]
    except NotEvaluated as error:
        return _failed(error)
    if predictions["artifact"].dtype.kind == "f":
        changed = ~np.isclose(predictions["artifact"], predictions["baseline"], rtol=1e-6, atol=1e-9)
    else:
        changed = predictions["artifact"] != predictions["baseline"]
    details = {"candidate": results["artifact"], "production": results["baseline"],
               "changed_share": round(float(changed.mean()), 6), "rows": int(len(frame))}  # fmt: skip
    return {"passed": True, "summary": "", "details": details}


def group_table(labels, predicted, groups) -> dict:
    """Per-group selection rate, true and false positive rates and accuracy (fairlearn), with
    the demographic-parity and equalized-odds differences.

    Every one of these depends only on how many rows share each (truth, prediction, group), so
    fairlearn is given those few cells weighted by their counts rather than a million rows
    (fairlearn 0.15 turns each row into an array: 30 s at a million rows, against milliseconds)."""
    import pandas as pd
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    cells = pd.DataFrame({"truth": labels, "predicted": predicted, "group": groups})
    cells = cells.value_counts(dropna=False, sort=False).reset_index(name="rows")
    truth, guess, group = cells["truth"].to_numpy(), cells["predicted"].to_numpy(), cells["group"].to_numpy()
    weight = cells["rows"].to_numpy()
    metrics = {
        "selection_rate": selection_rate,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
        "accuracy": accuracy_score,
    }
    by_group = MetricFrame(
        metrics=metrics,
        y_true=truth,
        y_pred=guess,
        sensitive_features=group,
        sample_params={name: {"sample_weight": weight} for name in metrics},
    ).by_group
    counts = cells.groupby("group")["rows"].sum()
    table = {
        str(name): {metric: _finite(value) for metric, value in row.items()} | {"count": int(counts[name])}
        for name, row in by_group.iterrows()
    }
    differences = {"y_true": truth, "y_pred": guess, "sensitive_features": group, "sample_weight": weight}
    return {
        "groups": table,
        "demographic_parity_difference": round(float(demographic_parity_difference(**differences)), 6),
        "equalized_odds_difference": round(float(equalized_odds_difference(**differences)), 6),
    }


def fairness(payload: dict, directory: Path) -> dict:
    """The group table over ``attribute`` (a column the dataset does not name as sensitive;
    ``measure`` covers those)."""
    attribute = payload["attribute"]
    try:
        model, features, frame = _load_and_frame(payload, directory)
        if attribute not in frame.columns:
            raise NotEvaluated(f"The dataset has no column {attribute!r}.")
        if not hasattr(model, "classes_"):
            raise NotEvaluated("The fairness check applies to classifiers; this model is a regressor.")
        try:
            predicted = model.predict(frame[features])
        except Exception as error:
            raise NotEvaluated(f"The model could not predict: {type(error).__name__}: {error}"[:400]) from None
    except NotEvaluated as error:
        return _failed(error)
    labels, groups = frame[payload["target"]].to_numpy(), frame[attribute].astype(str).to_numpy()
    return {
        "passed": True,
        "summary": "",
        "details": {"attribute": attribute, **group_table(labels, predicted, groups)},
    }


def input_features(payload: dict, directory: Path) -> dict:
    """The feature names the model expects (its bundle's ``features`` or ``feature_names_in_``),
    read after the pickle scan passed; ``{"features": None}`` when it declares none."""
    try:
        bundle = _load(payload, directory)
    except NotEvaluated as error:
        return _failed(error)
    model = bundle.get("model") if isinstance(bundle, dict) else bundle
    features = bundle.get("features") if isinstance(bundle, dict) else None
    if features is None and hasattr(model, "feature_names_in_"):
        features = list(model.feature_names_in_)
    return {
        "passed": True,
        "summary": "",
        "details": {"features": None if features is None else [str(f) for f in features]},
    }
