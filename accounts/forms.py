from django import forms
from django.conf import settings


class TokenForm(forms.Form):
    """A new API token: what it is for and how long it lives."""

    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'CI pipeline'.")
    days = forms.IntegerField(
        min_value=1, max_value=366, initial=settings.SIGNOFF_TOKEN_DAYS, help_text="Days until it expires."
    )
