from django import forms
from django.conf import settings

from accounts.models import Scope, default_scopes


class TokenForm(forms.Form):
    """A new API token: what it is for and how long it lives."""

    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'CI pipeline'.")
    days = forms.IntegerField(
        min_value=1, max_value=366, initial=settings.SIGNOFF_TOKEN_DAYS, help_text="Days until it expires."
    )
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        initial=default_scopes,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What it may do. Deciding and deploying only when a person's pipeline really needs it.",
    )

    def clean_scopes(self):
        return self.cleaned_data["scopes"] or default_scopes()  # none ticked: the defaults
