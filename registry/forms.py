"""Forms for registering models and versions in the pages; the services do the real validation."""

from django import forms
from django.core.exceptions import ValidationError

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


class ModelForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Lowercase letters, digits, '-' and '_'; used in URLs.")
    team = forms.ModelChoiceField(queryset=Team.objects.none())
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams


class VersionForm(forms.Form):
    artifact = forms.FileField(allow_empty_file=True)
    metrics = JSONObjectField(help_text='e.g. {"accuracy": 0.91, "roc_auc": 0.95}')
    params = JSONObjectField(required=False, help_text='Hyperparameters, e.g. {"C": 1.0}')
    description = forms.CharField(required=False, max_length=2000)
    dataset_uri = forms.CharField(required=False, max_length=500)
    dataset_version = forms.CharField(required=False, max_length=100)
    code_repository = forms.CharField(required=False, max_length=500)
    code_commit = forms.CharField(required=False, max_length=100)
