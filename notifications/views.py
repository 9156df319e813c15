"""The e-mail settings page: which kinds of e-mail one receives, the daily digest among them."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from notifications import preferences
from notifications.models import DIGEST


class EmailSettingsForm(forms.Form):
    receive = forms.MultipleChoiceField(
        choices=list(preferences.KINDS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Send me e-mail when",
    )


@login_required
def email_settings(request):
    if request.method == "POST":
        form = EmailSettingsForm(request.POST)
        if form.is_valid():
            muted = set(preferences.KINDS) - set(form.cleaned_data["receive"])
            changed = preferences.email_kinds_set(user=request.user, muted=muted)
            messages.success(request, "Your e-mail settings are saved." if changed else "Nothing changed.")
            return redirect("email-settings")
        status = 400
    else:
        received = set(preferences.KINDS) - preferences.muted_kinds(request.user)
        form = EmailSettingsForm(initial={"receive": sorted(received)})
        status = 200
    context = {"form": form, "digest": DIGEST, "no_address": not request.user.email}
    return render(request, "email_settings.html", context, status=status)
