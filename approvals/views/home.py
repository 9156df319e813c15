"""The dashboard and the profile page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from rest_framework.authtoken.models import Token

from approvals import selectors
from registry.permissions import teams_of
from registry.roles import role_names


@login_required
def dashboard(request):
    user = request.user
    return render(
        request,
        "dashboard.html",
        {
            "waiting": selectors.request_list(user=user, awaiting_me=True)[:10],
            "submitted": selectors.requests_submitted_by(user=user)[:10],
            "decisions": selectors.recent_decisions(user=user, limit=10),
        },
    )


@login_required
def profile(request):
    if request.method == "POST":
        Token.objects.filter(user=request.user).delete()
        Token.objects.create(user=request.user)
        messages.success(request, "A new API token was created; the old one no longer works.")
        return redirect("profile")
    return render(
        request,
        "profile.html",
        {
            "token": Token.objects.filter(user=request.user).first(),
            "roles": sorted(
                role_names(request.user) - {t.group.name for t in teams_of(request.user).select_related("group")}
            ),
            "teams": teams_of(request.user),
        },
    )
