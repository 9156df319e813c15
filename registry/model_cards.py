"""The model card of a version: what it is for, what it was trained and evaluated on, its
limits, who owns it and how risky it is. Text fields are Markdown, rendered safely."""

from django.core.exceptions import ValidationError

from registry.validation import text_problem

FIELDS = (
    ("intended_use", "Intended use", "Who uses the model, for which decisions."),
    ("out_of_scope_uses", "Out-of-scope uses", "Uses the model must not be put to."),
    ("training_data", "Training data", "Source, period, size and known gaps of the training data."),
    ("evaluation_data", "Evaluation data", "The hold-out data the reported metrics come from."),
    ("metrics_rationale", "Why these metrics", "Why these metrics and thresholds fit the use."),
    ("limitations", "Limitations", "Where the model is known to be weak."),
    ("ethical_considerations", "Ethical considerations and mitigations", "Risks to people and what limits them."),
    ("owner", "Owner", "The person or team answerable for the model."),
)
RISK_TIERS = ("low", "medium", "high")
KEYS = frozenset([key for key, _, _ in FIELDS] + ["risk_tier"])
MAX_FIELD_LENGTH = 10_000


def validate_model_card(card) -> dict:
    """The card with its text stripped; ValidationError naming each bad field otherwise."""
    if card in (None, ""):
        return {}
    if not isinstance(card, dict):
        raise ValidationError({"model_card": "The model card must be an object of field → text."})
    errors = {}
    unknown = sorted(set(card) - KEYS)
    if unknown:
        errors["model_card"] = (
            f"Unknown model card fields: {', '.join(unknown)[:200]}. Allowed: {', '.join(sorted(KEYS))}."
        )
    clean = {}
    for key, value in card.items():
        if key not in KEYS:
            continue
        if not isinstance(value, str):
            errors[f"model_card.{key}"] = "Must be text."
        elif len(value) > MAX_FIELD_LENGTH:
            errors[f"model_card.{key}"] = f"At most {MAX_FIELD_LENGTH:,} characters."
        elif text_problem(value):
            errors[f"model_card.{key}"] = f"The text {text_problem(value)}."
        elif key == "risk_tier" and value.strip() and value.strip() not in RISK_TIERS:
            errors[f"model_card.{key}"] = f"Choose one of {', '.join(RISK_TIERS)}."
        else:
            clean[key] = value.strip()
    if errors:
        raise ValidationError(errors)
    return {key: value for key, value in clean.items() if value}


def missing_fields(card: dict, required) -> list[str]:
    """The required fields that are absent or blank, in the card's order."""
    order = [key for key, _, _ in FIELDS] + ["risk_tier"]
    return [key for key in order if key in required and not str(card.get(key) or "").strip()]


def label(key: str) -> str:
    return {k: text for k, text, _ in FIELDS}.get(key, "Risk tier" if key == "risk_tier" else key)
