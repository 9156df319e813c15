"""Logging in and out, the profile page, and personal API tokens."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import TokenForm
from accounts.models import ApiToken, PasswordSetByOther
from config.errors import error_response
from config.pages import form_errors_from
from registry.permissions import teams_of
from registry.roles import role_names

login = auth_views.LoginView.as_view(redirect_authenticated_user=True)
logout = auth_views.LogoutView.as_view()


def locked_out(request, credentials, *args, **kwargs):
    """django-axes calls this once a username / address pair has failed too often."""
    return error_response(
        request,
        429,
        "Too many failed logins for this account from your address. Try again later or ask an administrator.",
    )


def _profile(request, *, form=None, new_key=None, status=200):
    team_groups = {team.group.name for team in teams_of(request.user).select_related("group")}
    return render(
        request,
        "profile.html",
        {
            "roles": sorted(role_names(request.user) - team_groups),
            "teams": teams_of(request.user),
            "team_roles": request.user.team_roles.select_related("team", "role").order_by("team__name", "role__name"),
            "tokens": ApiToken.objects.filter(user=request.user)[:50],
            "form": form or TokenForm(),
            "new_key": new_key,
            "password_set_by_other": PasswordSetByOther.objects.filter(user=request.user).first(),
        },
        status=status,
    )


@login_required
def profile(request):
    return _profile(request)


@login_required
@require_POST
def token_create(request):
    """Create a token and show its key, this once; only its digest is kept."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _profile(request, form=form, status=400)
    try:
        token, key = services.api_token_create(user=request.user, **form.cleaned_data)
    except ValidationError as error:
        form_errors_from(form, error)
        return _profile(request, form=form, status=400)
    messages.success(request, f"The token '{token.name}' was created. Copy its key now: it is not shown again.")
    return _profile(request, new_key=key, status=201)


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)  # someone else's token is a 404
    services.api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"The token '{token.name}' was revoked; it no longer works.")
    return redirect("profile")


class PasswordChange(auth_views.PasswordChangeView):
    """The owner chooses a new password (audited; it clears a password someone else set)."""

    template_name = "registration/password_change.html"
    success_url = "/profile/"

    def form_valid(self, form):
        messages.success(self.request, "Your password is changed.")
        return super().form_valid(form)


password_change = PasswordChange.as_view()
