"""Form fields every app's forms share."""

from django import forms

MAX_ID = 2**63 - 1


def _refuse_absurd_ids(values) -> None:
    """Ids that are not whole numbers a database key can hold are refused before any query
    (SQLite cannot even bind 10**400)."""
    for value in values:
        text = str(value)
        if not (text.isascii() and text.isdigit() and len(text) < 20 and int(text) <= MAX_ID):
            raise forms.ValidationError(f"{text[:20]!r} is not one of the choices.", code="invalid_choice")


class IdChoiceField(forms.ModelChoiceField):
    def to_python(self, value):
        if value not in self.empty_values:
            _refuse_absurd_ids([value])
        return super().to_python(value)


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):
    def clean(self, value):
        if value:
            _refuse_absurd_ids(value if isinstance(value, list | tuple) else [value])
        return super().clean(value)
