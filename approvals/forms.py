from django import forms
from django.contrib.auth.models import Group

from approvals.models import Decision, PromotionRequest
from config.fields import IdChoiceField, IdMultipleChoiceField
from registry.models import RegisteredModel


class DecisionForm(forms.Form):
    """A reviewer's verdict on the current step; the service enforces the rules."""

    verdict = forms.ChoiceField(choices=Decision.Verdict.choices)
    # The step the reviewer saw, so a decision made on a stale page is "already decided".
    step = forms.CharField(required=False, widget=forms.HiddenInput, max_length=50)  # its name, as in the API
    # The production version the reviewer saw (deployment steps), so parallel deployments have one winner.
    production_seen = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=2**31)
    comment = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    # SHA-256 of the evidence summary the reviewer was shown; a decision on changed evidence is refused.
    evidence_digest = forms.RegexField(regex=r"^[0-9a-f]{64}$", required=False, widget=forms.HiddenInput)


class RollbackForm(forms.Form):
    """An IT engineer's rollback: which earlier production version, why, and a confirmation."""

    target = forms.TypedChoiceField(coerce=int, label="Restore version")
    comment = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required; the team reads it.",
    )
    confirm = forms.BooleanField(label="I confirm this rollback of the production version")
    production_seen = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [(v.number, f"v{v.number}") for v in targets]


SORTS = [("newest", "Newest first"), ("oldest", "Oldest first"), ("updated", "Recently changed"), ("model", "Model")]


class RequestFilterForm(forms.Form):
    """The request queue's query string."""

    view = forms.ChoiceField(choices=[("mine", "Waiting for me"), ("all", "All requests")], required=False)
    status = forms.ChoiceField(choices=PromotionRequest.Status.choices, required=False)
    model = forms.CharField(max_length=100, required=False)
    q = forms.CharField(max_length=100, required=False, help_text="Part of a model's name or a submitter's; #12.")
    sort = forms.ChoiceField(choices=SORTS, required=False)
    page = forms.IntegerField(min_value=1, max_value=10**6, required=False)


class WithdrawForm(forms.Form):
    """The submitter takes back an open request; the reviewers read the reason."""

    reason = forms.CharField(
        max_length=5000, widget=forms.Textarea(attrs={"rows": 2}), help_text="Required; the reviewers are told."
    )


class CommentForm(forms.Form):
    """A new thread (no ``thread``) or a reply in one; Markdown."""

    body = forms.CharField(
        label="Comment",
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Markdown; @name tells a colleague."}),
    )
    thread = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)


class CommentEditForm(forms.Form):
    body = forms.CharField(label="Comment", max_length=20_000, widget=forms.Textarea(attrs={"rows": 3}))


class ResolveForm(forms.Form):
    resolved = forms.BooleanField(required=False)


class WaiverRequestForm(forms.Form):
    """The author asks that one failed check not stop the request."""

    run = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    reason = forms.CharField(
        max_length=5000, widget=forms.Textarea(attrs={"rows": 2}), help_text="Why this failure should not stop it."
    )


class WaiverDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("grant", "Grant"), ("refuse", "Refuse")])
    comment = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}), help_text="Required to refuse."
    )


class EmergencyRequestForm(forms.Form):
    """Break-glass: release the version now, past the reviews still waiting."""

    justification = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why it cannot wait: the person who agrees, and the retrospective, read it.",
    )


class EmergencyDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("release", "Agree and release"), ("refuse", "Refuse")])
    comment = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}), help_text="Required to refuse."
    )


class DelegationForm(forms.Form):
    """Out of office: who decides for you, from when until when, optionally on which models and
    steps of which roles. The service checks the rest (they hold the roles, have the access)."""

    delegate = IdChoiceField(queryset=None, help_text="Someone of your teams.")
    starts_at = forms.DateTimeField(label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    models = IdMultipleChoiceField(
        queryset=None, required=False, help_text="None chosen: every model.", label="Only these models"
    )
    roles = IdMultipleChoiceField(
        queryset=None, required=False, help_text="None chosen: every step.", label="Only steps of these roles"
    )
    reason = forms.CharField(max_length=500, help_text="The others read it, e.g. 'On leave until the 14th'.")

    def __init__(self, *args, user, **kwargs):
        from django.contrib.auth import get_user_model

        from registry import permissions as registry_permissions
        from registry.roles import role_names

        super().__init__(*args, **kwargs)
        teammates = (
            get_user_model()
            .objects.filter(is_active=True, groups__team__in=registry_permissions.teams_of(user))
            .exclude(pk=user.pk)
        )
        self.fields["delegate"].queryset = teammates.distinct().order_by("username")
        self.fields["delegate"].label_from_instance = lambda person: person.get_full_name() or person.username
        self.fields["models"].queryset = registry_permissions.restrict(
            RegisteredModel.objects.order_by("name"), user, registry_permissions.ACT
        )
        # Roles, not teams: a team's group is its membership.
        self.fields["roles"].queryset = Group.objects.filter(name__in=role_names(user), team=None).order_by("name")
