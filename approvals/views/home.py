"""The dashboard."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from approvals import selectors


@login_required
def dashboard(request):
    user = request.user
    return render(
        request,
        "dashboard.html",
        {
            "waiting": selectors.with_active_steps(selectors.request_list(user=user, awaiting_me=True)[:10]),
            "submitted": selectors.with_active_steps(selectors.requests_submitted_by(user=user)[:10]),
            "sent_back": selectors.requests_sent_back_to(user=user)[:5],
            "decisions": selectors.recent_decisions(user=user, limit=10),
        },
    )
