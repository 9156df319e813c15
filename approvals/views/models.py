"""Model and version pages: lists, registration, submission and rollback."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from approvals import datasets, permissions, selectors, services
from approvals.forms import DatasetForm, RollbackForm
from approvals.models import PromotionRequest
from config.pages import form_errors_from, paginate
from registry import kept_uploads, model_cards
from registry import permissions as registry_permissions
from registry import selectors as registry_selectors
from registry import services as registry_services
from registry.downloads import artifact_response
from registry.forms import ModelCardForm, ModelForm, VersionForm
from registry.permissions import teams_of
from registry.roles import DATA_SCIENTIST, role_names


@login_required
def model_list(request):
    can_register = request.user.is_active and DATA_SCIENTIST in role_names(request.user)
    if request.method == "POST" and not can_register:
        raise PermissionDenied("Only data scientists may register models.")
    form = ModelForm(request.POST or None, teams=teams_of(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            model = registry_services.registered_model_create(created_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(request, f"{model} is registered. Upload its first version.")
            return redirect(model)
    return render(
        request,
        "models/list.html",
        {
            "page": paginate(request, registry_selectors.model_list(user=request.user)),
            "form": form,
            "can_register": can_register,
        },
        status=400 if form.errors else 200,
    )


def _model_page(request, model, version_form=None, rollback_form=None, dataset_form=None, status=200):
    latest = PromotionRequest.objects.filter(version=OuterRef("pk")).order_by("-submitted_at")
    versions = registry_selectors.version_list(model=model).annotate(
        request_id=Subquery(latest.values("pk")[:1]),
        request_status=Subquery(latest.values("status")[:1]),
    )
    can_rollback = permissions.can(request.user, permissions.ROLLBACK, model)
    targets = services.rollback_targets(model=model) if can_rollback else []
    production = registry_selectors.production_version(model=model)
    initial = {"production_seen": production.number if production else None}
    return render(
        request,
        "models/detail.html",
        {
            "model": model,
            "page": paginate(request, versions),
            "history": selectors.model_history(model=model)[:25],
            "trends": selectors.metric_trends(model=model),
            "stage_timeline": selectors.stage_timeline(model=model),
            "production": production,
            "can_rollback": can_rollback,
            "can_register": registry_permissions.can(request.user, registry_permissions.REGISTER_VERSION, model),
            "can_register_dataset": registry_permissions.can(
                request.user, registry_permissions.REGISTER_DATASET, model
            ),
            "version_form": version_form or VersionForm(),
            **_datasets_context(model),
            "dataset_form": dataset_form or DatasetForm(),
            "rollback_form": rollback_form or (RollbackForm(targets=targets, initial=initial) if targets else None),
            "status_labels": dict(PromotionRequest.Status.choices),
        },
        status=status,
    )


@login_required
def model_detail(request, name):
    return _model_page(request, registry_selectors.model_get(user=request.user, name=name))


def _register_page(request, model, form, status=200, kept_name=None):
    context = {"model": model, "form": form, "kept_name": kept_name}
    return render(request, "models/version_new.html", context, status=status)


@login_required
def version_create(request, name):
    """Register a version: the form (``?from=<n>`` prefills it from version n, for "Register a
    fixed version") and its submission."""
    model = registry_selectors.model_get(user=request.user, name=name)
    refusal = registry_permissions.refusal(request.user, registry_permissions.REGISTER_VERSION, model)
    if refusal:
        raise PermissionDenied(refusal)
    if request.method != "POST":
        source = request.GET.get("from", "")
        if source:
            if not (source.isascii() and source.isdigit() and len(source) < 10):
                raise BadRequest("'from' must be a version number.")
            previous = registry_selectors.version_get(user=request.user, name=name, number=int(source))
            return _register_page(request, model, VersionForm(initial=VersionForm.initial_from(previous)))
        return _register_page(request, model, VersionForm())
    kept = kept_uploads.take(request.POST.get("kept_artifact", ""), user=request.user, model=model)
    form = VersionForm(request.POST, request.FILES, kept=None if request.FILES.get("artifact") else kept)
    if form.is_valid():
        derived_from = None
        if form.cleaned_data["derived_from"]:
            derived_from = model.versions.filter(number=form.cleaned_data["derived_from"]).first()
        try:
            version = registry_services.model_version_create(
                model=model, created_by=request.user, derived_from=derived_from, **form.service_kwargs()
            )
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            if kept is not None:
                kept_uploads.discard(kept)
            messages.success(request, f"{version} is registered. Submit it for approval when it is ready.")
            return redirect(version)
    upload = request.FILES.get("artifact")
    token = kept_uploads.keep(upload, user=request.user, model=model) if upload else None
    if token is not None and kept is not None:
        kept_uploads.discard(kept)  # the new upload takes its place
    if token is None and kept is not None:
        token, kept_name = request.POST["kept_artifact"], kept.name
    else:
        kept_name = getattr(upload, "client_name", None) or getattr(upload, "name", None)
    if token is not None:
        form.data = form.data.copy()
        form.data["kept_artifact"] = token
    return _register_page(request, model, form, status=400, kept_name=kept_name if token else None)


@login_required
@require_POST
def version_card(request, name, number):
    version = registry_selectors.version_get(user=request.user, name=name, number=number)
    form = ModelCardForm(request.POST)
    if form.is_valid():
        try:
            registry_services.model_version_card_update(
                version=version, model_card=form.model_card(), actor=request.user
            )
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(request, "The model card is saved.")
            return redirect(version)
    return _version_page(request, version, card_form=form, status=400)


@login_required
def version_detail(request, name, number):
    return _version_page(request, registry_selectors.version_get(user=request.user, name=name, number=number))


def _version_page(request, version, card_form=None, status=200):
    production = registry_selectors.production_version(model=version.model)
    requests = list(selectors.version_requests(version=version))
    comparison = []
    if production is not None and production.pk != version.pk:
        for metric, value in version.metrics.items():
            baseline = production.metrics.get(metric)
            comparison.append((metric, value, baseline, None if baseline is None else value - baseline))
    # The service decides; this only hides a button that would certainly be refused.
    can_submit = (
        version.stage in services.SUBMITTABLE_STAGES
        and (
            not requests or requests[0].status in (PromotionRequest.Status.FAILED, PromotionRequest.Status.ROLLED_BACK)
        )
        and permissions.can(request.user, permissions.SUBMIT, version)
    )
    return render(
        request,
        "models/version.html",
        {
            "version": version,
            "model": version.model,
            "production": production,
            "comparison": comparison,
            "requests": requests,
            "check_runs": selectors.version_check_runs(version=version),
            "can_submit": can_submit,
            "can_edit_card": not version.is_submitted
            and registry_permissions.can(request.user, registry_permissions.REGISTER_VERSION, version.model),
            "card_form": card_form or ModelCardForm(initial=ModelCardForm.initial_from(version.model_card)),
            "card_fields": [(label, version.model_card.get(key)) for key, label, _ in model_cards.FIELDS],
        },
        status=status,
    )


@login_required
def version_artifact(request, name, number):
    """The artifact as an attachment (never rendered); invisible versions are a 404."""
    version = registry_selectors.version_get(user=request.user, name=name, number=number)
    return artifact_response(version=version, actor=request.user)


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
@require_POST
def model_rollback(request, name):
    model = registry_selectors.model_get(user=request.user, name=name)
    refusal = permissions.refusal(request.user, permissions.ROLLBACK, model)
    if refusal:
        raise PermissionDenied(refusal)
    form = RollbackForm(request.POST, targets=services.rollback_targets(model=model))
    if not form.is_valid():
        return _model_page(request, model, rollback_form=form, status=400)
    try:
        restored = services.model_rollback(
            model=model,
            actor=request.user,
            comment=form.cleaned_data["comment"],
            target=form.cleaned_data["target"],
            production_seen=form.cleaned_data["production_seen"],
        )
    except services.InvalidTransition as error:
        messages.warning(request, str(error))
        return redirect(model)
    except ValidationError as error:
        form_errors_from(form, error)
        return _model_page(request, model, rollback_form=form, status=400)
    messages.success(request, f"{restored} is the production version again.")
    return redirect(model)


@login_required
@require_POST
def dataset_create(request, name):
    model = registry_selectors.model_get(user=request.user, name=name)
    refusal = registry_permissions.refusal(request.user, registry_permissions.REGISTER_DATASET, model)
    if refusal:
        raise PermissionDenied(refusal)
    form = DatasetForm(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        try:
            dataset = datasets.evaluation_dataset_register(model=model, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form_errors_from(form, error)
        except datasets.TooManyBeingRead as busy:
            form.add_error(None, str(busy))
            status = 429
        else:
            messages.success(
                request,
                f"The dataset {dataset.name} is uploaded; Signoff is reading it. This page shows when it is ready.",
            )
            return redirect(f"{model.get_absolute_url()}#datasets")
    return _model_page(request, model, dataset_form=form, status=status)


def _datasets_context(model) -> dict:
    shown = list(selectors.dataset_list(model=model)[:20])
    being_read = any(dataset.status == dataset.Status.PROFILING for dataset in shown)
    return {"model": model, "datasets": shown, "datasets_being_read": being_read}


@login_required
def dataset_list(request, name):
    """The model's datasets table, polled by the model page while an upload is being read."""
    model = registry_selectors.model_get(user=request.user, name=name)
    if not request.htmx:
        return redirect(f"{model.get_absolute_url()}#datasets")
    return render(request, "models/_datasets.html", _datasets_context(model))
