"""The comparison page: 2 to 6 versions of a model side by side, where reviewers decide."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from approvals import selectors, services
from approvals.forms import DecisionForm
from approvals.verdict import verdict_line
from approvals.views.requests import evidence_context, steps_to_decide
from evidence.comparison import MAX_VERSIONS, SelectionError, check_matrix, parse_selection
from registry import selectors as registry_selectors


def _decision_context(request, model, numbers) -> dict:
    """The decision form of ``?request=<id>`` when that request is about one of the compared
    versions and the user may decide one of its waiting steps."""
    raw = request.GET.get("request", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 12):
        return {}
    try:
        promotion_request = selectors.request_get(user=request.user, pk=int(raw))
    except Http404:  # nothing to offer; the comparison still shows
        return {}
    if promotion_request.model_id != model.pk or promotion_request.version.number not in numbers:
        return {}
    evidence = evidence_context(promotion_request)
    shown = {"req": promotion_request, "verdict": verdict_line(promotion_request, evidence["evidence"])}
    deciding = steps_to_decide(request.user, promotion_request)
    if not deciding:
        return shown
    return {
        **shown,
        "may_decide": True,
        "deciding": deciding,
        "form": DecisionForm(),
        "production_seen": services.production_number(model.pk),
        "claim_hours": settings.SIGNOFF_CLAIM_HOURS,
        **evidence,
    }


@login_required
def model_compare(request, name):
    model = registry_selectors.model_get(user=request.user, name=name)
    context = {"model": model, "max_versions": MAX_VERSIONS, "only_differences": request.GET.get("diff") == "1"}
    if not request.GET.getlist("v"):
        context["choices"] = registry_selectors.version_list(model=model)[:30]
        return render(request, "models/compare.html", context)
    try:
        selection = parse_selection(request.GET.getlist("v"), request.GET.get("baseline"))
    except SelectionError as error:
        context.update(error=str(error), choices=registry_selectors.version_list(model=model)[:30])
        return render(request, "models/compare.html", context, status=400)
    comparison = selectors.comparison(model=model, selection=selection)
    numbers = [version["number"] for version in comparison["versions"]]
    context.update(
        comparison=comparison,
        numbers=numbers,
        selected=list(selection.numbers),
        baseline_index=numbers.index(comparison["baseline"]),
        check_matrix=check_matrix(comparison["versions"]),
        reported=request.GET.get("numbers") == "reported",
        comparison_groups=[
            ("Parameters", comparison["params"]),
            ("Lineage", comparison["lineage"]),
            ("Artifact", comparison["artifacts"]),
        ],
        **_decision_context(request, model, numbers),
    )
    return render(request, "models/compare.html", context)
