"""Forms for registering models and versions in the pages; the services do the real validation."""

import json

from django import forms
from django.core.exceptions import ValidationError

from registry import model_cards
from registry.models import Team
from registry.validation import parse_json


class JSONObjectField(forms.CharField):
    """A textarea holding a JSON object."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return {}
        try:
            parsed = parse_json(value, what="This field")
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError('Enter a JSON object, e.g. {"accuracy": 0.91}.')
        return parsed


class ModelSearchForm(forms.Form):
    """The model list's query string."""

    q = forms.CharField(max_length=100, required=False)
    sort = forms.ChoiceField(choices=[("name", "Name"), ("newest", "Newest"), ("team", "Team")], required=False)
    page = forms.IntegerField(min_value=1, max_value=10**6, required=False)


class ModelForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Lowercase letters, digits, '-' and '_'; used in URLs.")
    team = forms.ModelChoiceField(queryset=Team.objects.none())
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams


ROWS = 6  # metric and parameter rows the registration form offers


def _scalar(text: str):
    """A parameter typed in a row: a number or true/false/null as such, anything else as text."""
    try:
        value = parse_json(text, what="A parameter")
    except ValidationError:
        return text
    return value if isinstance(value, int | float | bool) or value is None else text


class ModelCardFields(forms.Form):
    """The model card's fields (prefixed ``card_``), shared by registration and card editing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, label, help_text in model_cards.FIELDS:
            self.fields[f"card_{key}"] = forms.CharField(
                label=label, required=False, max_length=model_cards.MAX_FIELD_LENGTH, help_text=help_text,
                widget=forms.Textarea(attrs={"rows": 2}) if key != "owner" else forms.TextInput,
            )  # fmt: skip
        self.fields["card_risk_tier"] = forms.ChoiceField(
            label="Risk tier",
            required=False,
            choices=[("", "—"), *[(t, t.capitalize()) for t in model_cards.RISK_TIERS]],
        )

    def card_fields(self):
        return [self[name] for name in self.fields if name.startswith("card_")]

    def model_card(self) -> dict:
        return {name[5:]: value for name, value in self.cleaned_data.items() if name.startswith("card_") and value}

    @staticmethod
    def initial_from(card: dict) -> dict:
        return {f"card_{key}": value for key, value in (card or {}).items()}


class VersionForm(ModelCardFields):
    """A version as a person registers it: metric and parameter rows (or JSON pasted in the
    fields ``metrics`` / ``params``), lineage and the model card."""

    artifact = forms.FileField(allow_empty_file=True)
    description = forms.CharField(required=False, max_length=2000)
    dataset_uri = forms.CharField(required=False, max_length=500, label="Training data URI")
    dataset_version = forms.CharField(required=False, max_length=100, label="Data version")
    code_repository = forms.CharField(required=False, max_length=500)
    code_commit = forms.CharField(required=False, max_length=100)
    metrics = JSONObjectField(required=False, help_text='Or paste them as JSON, e.g. {"accuracy": 0.91}')
    params = JSONObjectField(required=False, help_text='Or paste them as JSON, e.g. {"C": 1.0}')
    derived_from = forms.IntegerField(required=False, min_value=1, max_value=2**31, widget=forms.HiddenInput)
    # The token of an artifact kept from an earlier try with errors (registry.kept_uploads).
    kept_artifact = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)

    def __init__(self, *args, kept=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kept = kept
        if kept is not None:
            self.fields["artifact"].required = False
        for i in range(ROWS):
            self.fields[f"metric_name_{i}"] = forms.CharField(required=False, max_length=100, label="Metric")
            self.fields[f"metric_value_{i}"] = forms.FloatField(required=False, label="Value")
            self.fields[f"param_name_{i}"] = forms.CharField(required=False, max_length=100, label="Parameter")
            self.fields[f"param_value_{i}"] = forms.CharField(required=False, max_length=500, label="Value")

    def rows(self, kind: str):
        return [(self[f"{kind}_name_{i}"], self[f"{kind}_value_{i}"]) for i in range(ROWS)]

    def metric_rows(self):
        return self.rows("metric")

    def param_rows(self):
        return self.rows("param")

    def lineage_fields(self):
        return [
            self[name] for name in ("description", "dataset_uri", "dataset_version", "code_repository", "code_commit")
        ]

    def _collect(self, kind: str, pasted: dict, convert) -> dict:
        collected = dict(pasted)
        for i in range(ROWS):
            name, value = self.cleaned_data.get(f"{kind}_name_{i}"), self.cleaned_data.get(f"{kind}_value_{i}")
            if value in (None, "") and not name:
                continue
            if not name:
                self.add_error(f"{kind}_name_{i}", "Name this value.")
            elif value in (None, ""):
                self.add_error(f"{kind}_value_{i}", f"Give a value for {name}.")
            elif name in collected:
                self.add_error(f"{kind}_name_{i}", f"{name} is given twice.")
            else:
                collected[name] = convert(value)
        return collected

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("artifact") and self.kept is not None:
            cleaned["artifact"] = self.kept
        cleaned["metrics"] = self._collect("metric", cleaned.get("metrics") or {}, float)
        cleaned["params"] = self._collect("param", cleaned.get("params") or {}, _scalar)
        if not cleaned["metrics"] and not self.errors:
            self.add_error("metric_name_0", "Give at least one metric, e.g. accuracy 0.91.")
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        keys = ("artifact", "description", "dataset_uri", "dataset_version", "code_repository", "code_commit")
        return {**{key: data[key] for key in keys}, "metrics": data["metrics"], "params": data["params"],
                "model_card": self.model_card()}  # fmt: skip

    @classmethod
    def initial_from(cls, version) -> dict:
        """Prefilled from ``version`` for its fixed successor: parameters, lineage and card."""
        initial = {"derived_from": version.number, "description": version.description, **version.lineage}
        for i, (name, value) in enumerate(list(version.params.items())[:ROWS]):
            initial[f"param_name_{i}"], initial[f"param_value_{i}"] = name, json_text(value)
        for i, name in enumerate(list(version.metrics)[:ROWS]):
            initial[f"metric_name_{i}"] = name
        return {**initial, **ModelCardFields.initial_from(version.model_card)}


def json_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class ModelCardForm(ModelCardFields):
    pass
