from django import forms

from approvals.models import Decision


class DecisionForm(forms.Form):
    """A reviewer's verdict on the current step; the service enforces the rules."""

    verdict = forms.ChoiceField(choices=Decision.Verdict.choices)
    # The step the reviewer saw, so a decision made on a stale page is "already decided".
    step = forms.IntegerField(required=False, widget=forms.HiddenInput)
    comment = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
