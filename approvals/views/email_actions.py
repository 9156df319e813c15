"""The confirm page of a decision link in an e-mail: opening it decides nothing; it shows the
evidence and a button; the button's POST (CSRF and the signed token) decides."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from approvals import email_actions, selectors, services
from approvals.forms import DecisionForm
from approvals.models import Decision
from approvals.verdict import verdict_line
from approvals.views.requests import evidence_context
from config.pages import form_errors_from


@login_required
def request_act(request, pk):
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    token = request.POST.get("t", "") if request.method == "POST" else request.GET.get("t", "")
    try:
        step, verdict = email_actions.action_read(token, user=request.user, request=promotion_request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(promotion_request)
    data = None
    if request.method == "POST":  # the token says which step and verdict, whatever the form says
        data = request.POST.copy()
        data["verdict"], data["step"] = verdict, step.name
    form = DecisionForm(data, initial={"verdict": verdict, "step": step.name})
    evidence = evidence_context(promotion_request)
    if request.method == "POST" and form.is_valid():
        try:
            services.step_decide(
                request=promotion_request, actor=request.user, step=step, verdict=verdict,
                comment=form.cleaned_data["comment"], production_seen=form.cleaned_data["production_seen"],
                evidence_seen=form.cleaned_data["evidence_digest"],
            )  # fmt: skip
        except services.InvalidTransition as error:
            messages.warning(request, str(error))
            return redirect(promotion_request)
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(request, "Your decision was recorded.")
            return redirect(promotion_request)
    context = {
        "req": promotion_request, "model": promotion_request.model, "version": promotion_request.version,
        "step": step, "verdict": verdict, "verdict_label": Decision.Verdict(verdict).label, "token": token,
        "form": form, "production_seen": services.production_number(promotion_request.model_id),
        "parts": verdict_line(promotion_request, evidence["evidence"]), "claim_hours": settings.SIGNOFF_CLAIM_HOURS,
        **evidence,
    }  # fmt: skip
    return render(request, "requests/act.html", context, status=400 if request.method == "POST" else 200)
