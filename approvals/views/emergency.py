"""Emergency releases (break-glass) on the request page: someone the workflow names asks to
release the version now; a second person agrees or refuses. Each calls one service
(``approvals.emergency``)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from approvals import emergency, selectors
from approvals.forms import EmergencyDecisionForm, EmergencyRequestForm
from approvals.views.waivers import problems, refused
from config.errors import Conflict


@login_required
@require_POST
def emergency_request(request, pk):
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    form = EmergencyRequestForm(request.POST)
    if not form.is_valid():
        return refused(request, promotion_request, f"No emergency release was asked for. {problems(form)}")
    try:
        emergency.emergency_request(
            request=promotion_request, actor=request.user, justification=form.cleaned_data["justification"]
        )
    except Conflict as error:  # decided or closed meanwhile: say so, change nothing
        messages.warning(request, str(error))
        return redirect(promotion_request)
    except ValidationError as error:
        return refused(request, promotion_request, f"No emergency release was asked for. {problems(error=error)}")
    messages.success(request, "You asked for an emergency release; the people who may agree to it are told.")
    return redirect(promotion_request)


@login_required
@require_POST
def emergency_decide(request, pk, emergency_id):
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    release = selectors.emergency_get(request=promotion_request, pk=emergency_id)
    form = EmergencyDecisionForm(request.POST)
    if not form.is_valid():
        return refused(request, promotion_request, f"Nothing was decided. {problems(form)}")
    agree = form.cleaned_data["decision"] == "release"
    try:
        emergency.emergency_decide(
            emergency=release, actor=request.user, release=agree, comment=form.cleaned_data["comment"]
        )
    except Conflict as error:  # decided or closed meanwhile: say so, change nothing
        messages.warning(request, str(error))
        return redirect(promotion_request)
    except ValidationError as error:
        return refused(request, promotion_request, f"Nothing was decided. {problems(error=error)}")
    if agree:
        messages.success(request, "Released: the waiting reviews are skipped; a retrospective review follows.")
    else:
        messages.success(request, "The emergency release is refused; the request goes on as before.")
    return redirect(promotion_request)
