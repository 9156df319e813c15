"""Waivers on the request page: the author asks that a failed check be waived; a person the
workflow names grants or refuses it. Each calls one service (``approvals.waivers``)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from approvals import selectors, waivers
from approvals.forms import WaiverDecisionForm, WaiverRequestForm
from approvals.views.requests import page_again
from config.errors import Conflict


def refused(request, promotion_request, message: str):
    """The request page again, saying what was wrong (400); nothing was written."""
    messages.error(request, message)
    return page_again(request, promotion_request)


def problems(form=None, error: ValidationError | None = None) -> str:
    if error is not None:
        return " ".join(message for messages_ in error.message_dict.values() for message in messages_)
    return " ".join(f"{form.fields[field].label or field}: {' '.join(errors)}" for field, errors in form.errors.items())


@login_required
@require_POST
def waiver_request(request, pk):
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    form = WaiverRequestForm(request.POST)
    if not form.is_valid():
        return refused(request, promotion_request, f"The waiver was not asked for. {problems(form)}")
    run = selectors.check_run_get(request=promotion_request, pk=form.cleaned_data["run"])
    try:
        waivers.waiver_request(check_run=run, actor=request.user, reason=form.cleaned_data["reason"])
    except Conflict as error:  # decided or closed meanwhile: say so, change nothing
        messages.warning(request, str(error))
        return redirect(promotion_request)
    except ValidationError as error:
        return refused(request, promotion_request, f"The waiver was not asked for. {problems(error=error)}")
    messages.success(request, f"You asked for a waiver of '{run.title}'; the people who may grant it are told.")
    return redirect(promotion_request)


@login_required
@require_POST
def waiver_decide(request, pk, waiver_id):
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    waiver = selectors.waiver_get(request=promotion_request, pk=waiver_id)
    form = WaiverDecisionForm(request.POST)
    if not form.is_valid():
        return refused(request, promotion_request, f"Nothing was decided. {problems(form)}")
    grant = form.cleaned_data["decision"] == "grant"
    try:
        waivers.waiver_decide(waiver=waiver, actor=request.user, grant=grant, comment=form.cleaned_data["comment"])
    except Conflict as error:  # decided or closed meanwhile: say so, change nothing
        messages.warning(request, str(error))
        return redirect(promotion_request)
    except ValidationError as error:
        return refused(request, promotion_request, f"Nothing was decided. {problems(error=error)}")
    messages.success(request, "The waiver is granted." if grant else "The waiver is refused.")
    return redirect(promotion_request)
