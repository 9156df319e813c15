"""Versions side by side: what a reviewer compares before deciding.

Plain functions of versions and their evidence (``selectors.versions_evidence``); no queries
here. The page, the API and the request page's summary all render what ``compare`` returns,
and a decision stores ``digest(summary(...))`` of what its reviewer was shown.
"""

import difflib
import hashlib
import json
import re
from dataclasses import dataclass

from registry import model_cards
from registry.validation import finite_number

MAX_VERSIONS = 6
# Metrics for which a smaller value is better; every other metric is better when larger.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "rmse", "mae", "mse", "loss", "error_rate", "latency_ms"})
LINEAGE_FIELDS = (
    ("dataset_uri", "Training data"),
    ("dataset_version", "Data version"),
    ("code_repository", "Code"),
    ("code_commit", "Commit"),
)


class SelectionError(ValueError):
    """The query names versions that cannot be compared; the message says why."""


@dataclass(frozen=True)
class Selection:
    numbers: tuple[int, ...]
    baseline: int | None


def _version_number(text: str, what: str) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise SelectionError(f"{what} must be a version number such as 3, not {text[:20]!r}.")
    return int(text)


def parse_selection(values: list[str], baseline: str | None) -> Selection:
    """``?v=3&v=5`` (or ``?v=3,5``) and ``baseline=`` as numbers: 2 to 6 distinct versions."""
    numbers = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                number = _version_number(part, "Each v")
                if number not in numbers:
                    numbers.append(number)
    if not 2 <= len(numbers) <= MAX_VERSIONS:
        raise SelectionError(f"Choose 2 to {MAX_VERSIONS} different versions (?v=3&v=5); {len(numbers)} given.")
    chosen = None if baseline in (None, "") else _version_number(baseline, "baseline")
    return Selection(tuple(sorted(numbers)), chosen)


def _number(value) -> float | None:
    return float(value) if finite_number(value) else None


def _better(metric: str, delta: float | None) -> bool | None:
    if delta is None or abs(delta) < 1e-12:
        return None
    return (delta < 0) if metric in LOWER_IS_BETTER else (delta > 0)


def _gate_passed(gate: dict | None, value: float | None) -> bool | None:
    if gate is None or value is None:
        return None
    low, high = gate.get("min"), gate.get("max")
    return (low is None or value >= low) and (high is None or value <= high)


def _headroom(gate: dict | None, value: float | None) -> float | None:
    """How far ``value`` is inside the gate (negative: outside), to its nearer bound."""
    if gate is None or value is None:
        return None
    room = [value - gate["min"] for _ in [0] if gate.get("min") is not None]
    room += [gate["max"] - value for _ in [0] if gate.get("max") is not None]
    return round(min(room), 6) if room else None


def _gates(evidences: list[dict]) -> dict[str, dict]:
    """The metric thresholds the versions' workflows apply, first one seen per metric."""
    gates = {}
    for evidence in evidences:
        for run in evidence["checks"]:
            config = run.get("config") or {}
            if run["check_type"] == "metric_threshold" and config.get("metric") not in gates:
                gates[config["metric"]] = {key: config.get(key) for key in ("min", "max")} | {
                    "source": config.get("source", "measured")
                }
    return gates


def _metric_rows(versions, evidences, base: int, gates: dict) -> list[dict]:
    names = []
    for version, evidence in zip(versions, evidences, strict=True):
        for name in [*version.metrics, *(evidence["measured"] or {}).get("metrics", {})]:
            if name not in names:
                names.append(name)
    rows = []
    for name in names:
        gate = gates.get(name)
        cells = []
        for version, evidence in zip(versions, evidences, strict=True):
            reported = _number(version.metrics.get(name))
            measured = _number((evidence["measured"] or {}).get("metrics", {}).get(name))
            value = measured if measured is not None else reported
            cells.append({"reported": reported, "measured": measured, "value": value})
        baseline = cells[base]["value"]
        for cell in cells:
            value = cell["value"]
            delta = None if value is None or baseline is None else value - baseline
            cell["delta"] = None if delta is None else round(delta, 6)
            cell["relative_delta"] = None if delta is None or not baseline else round(delta / abs(baseline), 6)
            cell["better"] = _better(name, delta)
            # The gate reads the value its check reads (measured or reported), so pill and check agree.
            judged = None if gate is None else cell["reported" if gate.get("source") == "reported" else "measured"]
            cell["gate_passed"] = _gate_passed(gate, judged)
            cell["headroom"] = _headroom(gate, judged)
        rows.append({"name": name, "lower_is_better": name in LOWER_IS_BETTER, "gate": gate, "cells": cells})
    return rows


def _diff_rows(fields: list[tuple[str, str]], values_of) -> list[dict]:
    rows = []
    for key, label in fields:
        values = values_of(key)
        rendered = [json.dumps(v, sort_keys=True) for v in values]
        rows.append({"name": label, "key": key, "values": values, "differs": len(set(rendered)) > 1})
    return rows


# Matching costs up to (pieces before) × (pieces after): two unlike 10,000-character card fields
# took seconds word by word. Past this budget texts are compared line by line, and past it again
# as a whole, so an author's long card cannot make reviewers' pages slow.
DIFF_BUDGET = 100_000


def text_changes(before: str, after: str) -> list[dict]:
    """``after`` against ``before`` word by word (line by line, or whole, when that would cost
    too much): ``[{"op": "equal" | "delete" | "insert", "text": …}]``."""
    old, new = re.split(r"(\s+)", before), re.split(r"(\s+)", after)
    if len(old) * len(new) > DIFF_BUDGET:
        old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    if len(old) * len(new) > DIFF_BUDGET:
        old, new = [before], [after]
    changes = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            changes.append({"op": "equal", "text": "".join(old[i1:i2])})
            continue
        changes.append({"op": "delete", "text": "".join(old[i1:i2])})
        changes.append({"op": "insert", "text": "".join(new[j1:j2])})
    return [change for change in changes if change["text"]]


def _card_rows(versions, base: int) -> list[dict]:
    """The model card field by field; where a version's text differs from the baseline's, its
    changes word by word."""
    fields = [(key, label) for key, label, _ in model_cards.FIELDS] + [("risk_tier", "Risk tier")]
    rows = _diff_rows(fields, lambda key: [(v.model_card or {}).get(key) or "" for v in versions])
    for row in rows:
        baseline = row["values"][base]
        row["changes"] = [
            text_changes(baseline, value) if row["differs"] and index != base and value != baseline else None
            for index, value in enumerate(row["values"])
        ]
    return rows


def _confusion(evidences, base: int) -> list[dict | None]:
    matrices = [(evidence["measured"] or {}).get("confusion_matrix") for evidence in evidences]
    baseline = matrices[base]
    result = []
    for matrix in matrices:
        if matrix is None:
            result.append(None)
            continue
        same_shape = baseline is not None and [len(r) for r in baseline] == [len(r) for r in matrix]

        def cell(i, j, count, same_shape=same_shape):
            return {"count": count, "delta": (count - baseline[i][j]) if same_shape else None}

        rows = [[cell(i, j, count) for j, count in enumerate(row)] for i, row in enumerate(matrix)]
        result.append({"matrix": matrix, "rows": rows, "labels": class_labels(len(matrix))})
    return result


def class_labels(size: int) -> list[str]:
    """The names of a confusion matrix's rows and columns, in scikit-learn's order (sorted class
    values): for two classes, the smaller value is the negative one."""
    return ["negative", "positive"] if size == 2 else [f"class {index + 1}" for index in range(size)]


def check_matrix(versions: list[dict]) -> list[dict]:
    """The checks of the compared versions as one table: a row per check (by title, in the order
    first seen), a cell per version (its run, or None when that version did not run it)."""
    rows: dict[str, list] = {}
    for index, version in enumerate(versions):
        for run in version["checks"]:
            rows.setdefault(run["title"], [None] * len(versions))[index] = run
    return [{"title": title, "cells": cells} for title, cells in rows.items()]


def _schema(evidence: dict) -> dict | None:
    schema = evidence["schema"]
    if not schema:
        return None
    keys = ("passed", "summary", "features", "added", "removed", "missing_in_dataset")
    return {key: schema.get(key) for key in keys}


def _changed_predictions(evidence: dict) -> float | None:
    regression = evidence.get("regression") or {}
    return _number(regression.get("changed_share"))


def compare(model, versions: list, evidences: list[dict], baseline_number: int) -> dict:
    """Everything the comparison page shows, for ``versions`` (oldest first) with their evidence."""
    numbers = [version.number for version in versions]
    base = numbers.index(baseline_number)
    gates = _gates(evidences)
    params = sorted({name for version in versions for name in version.params})
    return {
        "model": model.name,
        "baseline": baseline_number,
        "versions": [
            {
                "number": version.number,
                "stage": version.stage,
                "created_by": version.created_by.username,
                "created_at": version.created_at.isoformat(),
                "description": version.description,
                "artifact": {"sha256": version.artifact_sha256, "size": version.artifact_size},
                "request": evidence.get("request"),
                "checks": evidence["checks"],
            }
            for version, evidence in zip(versions, evidences, strict=True)
        ],
        "metrics": _metric_rows(versions, evidences, base, gates),
        "curves": {
            kind: [(evidence["measured"] or {}).get(kind) for evidence in evidences]
            for kind in ("roc_curve", "pr_curve", "calibration")
        },
        "confusion_matrices": _confusion(evidences, base),
        "fairness": [
            None
            if not evidence["fairness"]
            else {
                key: evidence["fairness"].get(key)
                for key in (
                    "passed",
                    "summary",
                    "attribute",
                    "groups",
                    "demographic_parity_difference",
                    "equalized_odds_difference",
                    "limits",
                )
            }
            for evidence in evidences
        ],  # fmt: skip
        "changed_predictions": [_changed_predictions(evidence) for evidence in evidences],
        "params": _diff_rows([(name, name) for name in params], lambda key: [v.params.get(key) for v in versions]),
        "lineage": _diff_rows(list(LINEAGE_FIELDS), lambda key: [getattr(v, key) for v in versions]),
        "artifacts": _diff_rows(
            [("artifact_sha256", "SHA-256"), ("artifact_size", "Size (bytes)")],
            lambda key: [getattr(v, key) for v in versions],
        ),
        "schema": [_schema(evidence) for evidence in evidences],
        "model_card": _card_rows(versions, base),
    }


def summary(comparison: dict, candidate_number: int) -> dict:
    """The part of a comparison the request page shows above the decision form: the candidate
    against the baseline (gates, metric deltas, fairness, schema, lineage, checks)."""
    numbers = [version["number"] for version in comparison["versions"]]
    index = numbers.index(candidate_number)
    base = numbers.index(comparison["baseline"])
    fairness = comparison["fairness"][index]
    return {
        "candidate": candidate_number,
        "baseline": comparison["baseline"] if base != index else None,
        "metrics": [
            {"name": row["name"], "lower_is_better": row["lower_is_better"], "gate": row["gate"],
             "candidate": row["cells"][index], "baseline": row["cells"][base]["value"] if base != index else None}
            for row in comparison["metrics"]
        ],  # fmt: skip
        "fairness": None if fairness is None else {key: fairness[key] for key in fairness if key != "groups"},
        "schema": comparison["schema"][index],
        "lineage": [{"name": row["name"], "value": row["values"][index], "differs": row["differs"]}
                    for row in comparison["lineage"]],
        "checks": comparison["versions"][index]["checks"],
        "artifact": comparison["versions"][index]["artifact"],
    }  # fmt: skip


def digest(evidence: dict) -> str:
    """SHA-256 of ``evidence`` in canonical JSON: what a decision records it was taken on."""
    canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
