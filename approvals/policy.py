"""Conditions of policy steps: declarative, validated, evaluated over recorded facts.

A condition is data, never code (no eval, no Python): ``all`` / ``any`` of conditions, ``not``
one, or a comparison of one fact:

- ``{metric: NAME, source: measured | reported, gte | gt | lte | lt | eq: NUMBER}``: a metric
  Signoff measured on the request's dataset (default) or the author reported;
- ``{check: TYPE, is: passed | failed}``: the outcome of a check of an earlier checks step;
- ``{model_card: risk_tier, in: [low, medium]}`` (or ``equals: low``): a field of the model card;
- ``{dataset: rows, gte: NUMBER}`` (any comparison): the size of the request's evaluation dataset.

A fact that is missing makes its comparison false, and the values read are recorded with the
verdict, so "approved by policy" always says on what.
"""

from dataclasses import dataclass, field

from evidence.comparison import LOWER_IS_BETTER
from registry.validation import finite_number

MEASURED_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier", "rmse", "mae", "r2")
KNOWN_METRICS = tuple(sorted({*MEASURED_METRICS, *LOWER_IS_BETTER, "auc"}))
COMPARISONS = {
    "gte": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "lte": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b,
}
CARD_FIELDS = ("risk_tier", "owner", "intended_use")
MAX_DEPTH = 10
MAX_TERMS = 50


def _comparison(condition: dict, path: tuple) -> list[tuple[tuple, str]]:
    ops = [key for key in condition if key in COMPARISONS]
    if len(ops) != 1:
        return [(path, f"give exactly one comparison of {', '.join(COMPARISONS)}")]
    if not finite_number(condition[ops[0]]):
        return [((*path, ops[0]), f"'{ops[0]}' must be a finite number")]
    return []


def condition_problems(condition, path: tuple = (), depth: int = 0) -> list[tuple[tuple, str]]:
    """(path, message) for each problem of ``condition``; empty when it is valid."""
    if depth > MAX_DEPTH:
        return [(path, f"conditions nest at most {MAX_DEPTH} deep")]
    if not isinstance(condition, dict) or not condition:
        return [(path, "a condition is a mapping: all, any, not, metric, check, model_card or dataset")]
    if "all" in condition or "any" in condition:
        key = "all" if "all" in condition else "any"
        terms = condition[key]
        if len(condition) != 1:
            return [(path, f"'{key}' stands alone in its condition")]
        if not isinstance(terms, list) or not terms or len(terms) > MAX_TERMS:
            return [((key,), f"'{key}' must list 1 to {MAX_TERMS} conditions")]
        return [p for i, term in enumerate(terms) for p in condition_problems(term, (*path, key, i), depth + 1)]
    if "not" in condition:
        if len(condition) != 1:
            return [(path, "'not' stands alone in its condition")]
        return condition_problems(condition["not"], (*path, "not"), depth + 1)
    if "metric" in condition:
        unknown = set(condition) - {"metric", "source", *COMPARISONS}
        if unknown:
            return [(path, f"unknown key '{sorted(map(str, unknown))[0]}' in a metric condition")]
        if condition["metric"] not in KNOWN_METRICS:
            return [((*path, "metric"), f"unknown metric {condition['metric']!r} (known: {', '.join(KNOWN_METRICS)})")]
        if condition.get("source", "measured") not in ("measured", "reported"):
            return [((*path, "source"), "'source' must be measured or reported")]
        return _comparison(condition, path)
    if "check" in condition:
        from evidence.checks import registered_checks

        if set(condition) != {"check", "is"} or condition["is"] not in ("passed", "failed"):
            return [(path, "a check condition is {check: TYPE, is: passed | failed}")]
        if condition["check"] not in registered_checks():
            return [((*path, "check"), f"unknown check {condition['check']!r}")]
        return []
    if "model_card" in condition:
        if condition["model_card"] not in CARD_FIELDS:
            return [((*path, "model_card"), f"'model_card' must be one of {', '.join(CARD_FIELDS)}")]
        rest = set(condition) - {"model_card"}
        if rest == {"equals"} and isinstance(condition["equals"], str):
            return []
        if rest == {"in"} and isinstance(condition["in"], list) and condition["in"]:
            if all(isinstance(v, str) for v in condition["in"]):
                return []
        return [(path, "a model card condition is {model_card: FIELD, equals: TEXT} or {in: [TEXT, ...]}")]
    if "dataset" in condition:
        if condition["dataset"] != "rows" or not set(condition) - {"dataset"} <= set(COMPARISONS):
            return [(path, "a dataset condition is {dataset: rows, gte: NUMBER} (or gt, lte, lt, eq)")]
        return _comparison(condition, path)
    return [(path, f"unknown condition '{sorted(map(str, condition))[0]}' (all, any, not, metric, check, model_card, "
             "dataset)")]  # fmt: skip


def checks_named(condition) -> set[str]:
    """The check types ``condition`` reads (each must run in an earlier checks step)."""
    if not isinstance(condition, dict):
        return set()
    if "check" in condition:
        return {condition["check"]}
    terms = condition.get("all") or condition.get("any") or ([condition["not"]] if "not" in condition else [])
    return {name for term in terms for name in checks_named(term)}


@dataclass
class Facts:
    """What a policy may read about a request, gathered once by the engine."""

    measured: dict = field(default_factory=dict)
    reported: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)  # check type → passed / failed / error
    model_card: dict = field(default_factory=dict)
    dataset_rows: int | None = None


def evaluate(condition: dict, facts: Facts, read: dict | None = None) -> tuple[bool, dict]:
    """Whether ``condition`` holds for ``facts``, and the values it read (name → value)."""
    read = {} if read is None else read
    if "all" in condition:
        return all([evaluate(term, facts, read)[0] for term in condition["all"]]), read
    if "any" in condition:
        return any([evaluate(term, facts, read)[0] for term in condition["any"]]), read
    if "not" in condition:
        return not evaluate(condition["not"], facts, read)[0], read
    if "check" in condition:
        outcome = facts.checks.get(condition["check"])
        read[f"check {condition['check']}"] = outcome
        return outcome == condition["is"], read
    if "model_card" in condition:
        value = facts.model_card.get(condition["model_card"])
        read[f"model card {condition['model_card']}"] = value
        allowed = [condition["equals"]] if "equals" in condition else condition["in"]
        return value in allowed, read
    op = next(key for key in condition if key in COMPARISONS)
    if "dataset" in condition:
        value, name = facts.dataset_rows, "dataset rows"
    else:
        source = condition.get("source", "measured")
        value, name = getattr(facts, source).get(condition["metric"]), f"{source} {condition['metric']}"
    read[name] = value
    return finite_number(value) and COMPARISONS[op](value, condition[op]), read


def describe(condition: dict) -> str:
    """The condition as a person reads it: "measured accuracy ≥ 0.95 and check regression passed"."""
    symbols = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<", "eq": "="}
    if "all" in condition or "any" in condition:
        key = "all" if "all" in condition else "any"
        joined = f" {'and' if key == 'all' else 'or'} ".join(describe(term) for term in condition[key])
        return f"({joined})" if len(condition[key]) > 1 else joined
    if "not" in condition:
        return f"not {describe(condition['not'])}"
    if "check" in condition:
        return f"check {condition['check']} {condition['is']}"
    if "model_card" in condition:
        if "equals" in condition:
            return f"model card {condition['model_card']} = {condition['equals']}"
        return f"model card {condition['model_card']} in {', '.join(condition['in'])}"
    op = next(key for key in condition if key in COMPARISONS)
    what = "dataset rows" if "dataset" in condition else f"{condition.get('source', 'measured')} {condition['metric']}"
    return f"{what} {symbols[op]} {condition[op]:g}"
