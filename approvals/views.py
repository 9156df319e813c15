"""Server-rendered pages. Reads go through selectors, writes through services; an object the
user may not see is a 404 (the selectors scope every lookup)."""

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from approvals import permissions, selectors, services
from approvals.forms import DecisionForm
from approvals.models import PromotionRequest, StepState
from registry import selectors as registry_selectors
from registry import services as registry_services
from registry.forms import ModelForm, VersionForm
from registry.permissions import teams_of, user_can_register_version
from registry.roles import DATA_SCIENTIST, role_names

PAGE_SIZE = 25


def paginate(request, queryset, size=PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


@login_required
def dashboard(request):
    user = request.user
    return render(request, "dashboard.html", {
        "waiting": selectors.request_list(user=user, awaiting_me=True)[:10],
        "submitted": selectors.requests_submitted_by(user=user)[:10],
        "decisions": selectors.recent_decisions(user=user, limit=10),
    })


def _form_errors_from(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form, field by field where the field exists."""
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


@login_required
def model_list(request):
    can_register = request.user.is_superuser or DATA_SCIENTIST in role_names(request.user)
    if request.method == "POST" and not can_register:
        raise PermissionDenied("Only data scientists may register models.")
    form = ModelForm(request.POST or None, teams=teams_of(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            model = registry_services.registered_model_create(created_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"{model} is registered. Upload its first version.")
            return redirect(model)
    return render(request, "models/list.html", {
        "page": paginate(request, registry_selectors.model_list(user=request.user)),
        "form": form,
        "can_register": can_register,
    }, status=400 if form.errors else 200)


def _model_page(request, model, version_form=None, status=200):
    latest = PromotionRequest.objects.filter(version=OuterRef("pk")).order_by("-submitted_at")
    versions = registry_selectors.version_list(model=model).annotate(
        request_id=Subquery(latest.values("pk")[:1]),
        request_status=Subquery(latest.values("status")[:1]),
    )
    return render(request, "models/detail.html", {
        "model": model,
        "page": paginate(request, versions),
        "history": selectors.model_history(model=model)[:25],
        "production": registry_selectors.production_version(model=model),
        "can_rollback": permissions.user_can_rollback(request.user, model),
        "can_register": user_can_register_version(request.user, model),
        "version_form": version_form or VersionForm(),
        "status_labels": dict(PromotionRequest.Status.choices),
    }, status=status)


@login_required
def model_detail(request, name):
    return _model_page(request, registry_selectors.model_get(user=request.user, name=name))


@login_required
@require_POST
def version_create(request, name):
    model = registry_selectors.model_get(user=request.user, name=name)
    if not user_can_register_version(request.user, model):
        raise PermissionDenied("Only data scientists with access to this model may register its versions.")
    form = VersionForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            version = registry_services.model_version_create(model=model, created_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"{version} is registered. Submit it for approval when it is ready.")
            return redirect(version)
    return _model_page(request, model, version_form=form, status=400)


@login_required
def version_detail(request, name, number):
    version = registry_selectors.version_get(user=request.user, name=name, number=number)
    production = registry_selectors.production_version(model=version.model)
    requests = list(selectors.version_requests(version=version))
    comparison = []
    if production is not None and production.pk != version.pk:
        for metric, value in version.metrics.items():
            baseline = production.metrics.get(metric)
            comparison.append((metric, value, baseline, None if baseline is None else value - baseline))
    # The service decides; this only hides a button that would certainly be refused.
    can_submit = (
        version.stage == "development"
        and (not requests or requests[0].status == PromotionRequest.Status.FAILED)
        and permissions.user_can_submit(request.user, version)
    )
    return render(request, "models/version.html", {
        "version": version,
        "model": version.model,
        "production": production,
        "comparison": comparison,
        "requests": requests,
        "check_runs": selectors.version_check_runs(version=version),
        "can_submit": can_submit,
    })


@login_required
@require_POST
def version_submit(request, name, number):
    version = registry_selectors.version_get(user=request.user, name=name, number=number)
    try:
        created = services.promotion_request_submit(version=version, actor=request.user)
    except services.InvalidTransition as error:
        messages.error(request, str(error))
        return redirect(version)
    messages.success(request, f"{version} was submitted; the automated checks are running.")
    return redirect(created)


@login_required
def request_list(request):
    view = request.GET.get("view", "mine")
    status = request.GET.get("status") or None
    if status not in PromotionRequest.Status.values:
        status = None
    requests = selectors.request_list(
        user=request.user, status=status, awaiting_me=view == "mine", model_name=request.GET.get("model") or None
    )
    return render(request, "requests/list.html", {
        "page": paginate(request, requests),
        "view": view,
        "status": status,
        "statuses": PromotionRequest.Status.choices,
        "model_name": request.GET.get("model", ""),
    })


def _request_context(request, promotion_request, form=None):
    step = promotion_request.current_step
    may_decide = (
        promotion_request.status == PromotionRequest.Status.AWAITING_REVIEW
        and step is not None
        and step.status == StepState.Status.WAITING
        and permissions.decide_refusal(request.user, promotion_request, step) is None
    )
    steps = list(promotion_request.steps.all())
    return {
        "req": promotion_request,
        "version": promotion_request.version,
        "model": promotion_request.model,
        "steps": steps,
        "live": any(s.status == StepState.Status.RUNNING for s in steps),
        "timeline": selectors.request_timeline(request=promotion_request),
        "may_decide": may_decide,
        "form": form or DecisionForm(),
    }


@login_required
def request_detail(request, pk):
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    return render(request, "requests/detail.html", _request_context(request, promotion_request))


@login_required
def request_progress(request, pk):
    """The steps and checks of a request, polled by the page while background work runs."""
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    if not request.htmx:  # a person who opens the partial's address gets the whole page
        return redirect(promotion_request)
    steps = list(promotion_request.steps.all())
    return render(request, "requests/_progress.html", {
        "req": promotion_request,
        "steps": steps,
        "live": any(s.status == StepState.Status.RUNNING for s in steps),
    })


@login_required
@require_POST
def request_decide(request, pk):
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return render(request, "requests/detail.html", _request_context(request, promotion_request, form), status=400)
    seen = {step.pk: step for step in promotion_request.steps.all()}.get(form.cleaned_data["step"])
    try:
        services.step_decide(
            request=promotion_request, actor=request.user, step=seen,
            verdict=form.cleaned_data["verdict"], comment=form.cleaned_data["comment"],
        )
    except services.InvalidTransition as error:
        messages.warning(request, str(error))
        return redirect(promotion_request)
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            form.add_error("comment" if field == "comment" else None, problems)
        return render(request, "requests/detail.html", _request_context(request, promotion_request, form), status=400)
    messages.success(request, "Your decision was recorded.")
    return redirect(promotion_request)


@login_required
@require_POST
def model_rollback(request, name):
    model = registry_selectors.model_get(user=request.user, name=name)
    try:
        restored = services.model_rollback(model=model, actor=request.user, comment=request.POST.get("comment", ""))
    except services.InvalidTransition as error:
        messages.warning(request, str(error))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{restored} is the production version again.")
    return redirect(model)


@login_required
def profile(request):
    if request.method == "POST":
        Token.objects.filter(user=request.user).delete()
        Token.objects.create(user=request.user)
        messages.success(request, "A new API token was created; the old one no longer works.")
        return redirect("profile")
    return render(request, "profile.html", {
        "token": Token.objects.filter(user=request.user).first(),
        "roles": sorted(role_names(request.user) - {t.group.name for t in teams_of(request.user).select_related("group")}),
        "teams": teams_of(request.user),
    })


def permission_denied(request, exception=None):
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)




AUDIT_PAGE_SIZE = 50
AUDIT_COLUMNS = ["id", "created_at", "actor", "verb", "object_type", "object_id", "object", "model", "request",
                 "from_state", "to_state", "comment"]


def _audit_filters(request) -> dict:
    return {key: request.GET.get(key) or None for key in ("model", "actor", "verb")}


@login_required
def audit_log(request):
    """The audit log, newest first, filterable; pages by id so the millionth event is as quick as the first."""
    filters = _audit_filters(request)
    events = selectors.audit_events(
        user=request.user, model_name=filters["model"], actor=filters["actor"], verb=filters["verb"]
    ).order_by("-pk")
    before = request.GET.get("before")
    if before and before.isdigit():
        events = events.filter(pk__lt=int(before))
    rows = list(events[: AUDIT_PAGE_SIZE + 1])
    query = urlencode({key: value for key, value in filters.items() if value})
    return render(request, "audit.html", {
        "events": rows[:AUDIT_PAGE_SIZE],
        "older": rows[AUDIT_PAGE_SIZE - 1].pk if len(rows) > AUDIT_PAGE_SIZE else None,
        "filters": filters,
        "query": query,
    })


class _Echo:
    """A file-like object whose write returns the line, for streaming CSV."""

    def write(self, value):
        return value


@login_required
def audit_export(request):
    """Every audit event the filters select, as CSV, streamed so the export's size does not matter."""
    filters = _audit_filters(request)
    events = selectors.audit_events(
        user=request.user, model_name=filters["model"], actor=filters["actor"], verb=filters["verb"]
    )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(AUDIT_COLUMNS)
        for e in events.iterator(chunk_size=2000):
            yield writer.writerow([
                e.pk, e.created_at.isoformat(), e.actor.username if e.actor else "system", e.verb, e.object_type,
                e.object_id, e.object_repr, e.model.name if e.model else "", e.request_id or "", e.from_state,
                e.to_state, e.comment,
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="signoff-audit.csv"'
    return response
