"""Model and version pages: lists, registration, the model card and downloads. Other apps add
their parts to the model and version pages through ``registry.page_parts``."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.pages import form_errors_from, paginate, valid_query
from registry import kept_uploads, model_cards, page_parts
from registry import permissions as registry_permissions
from registry import selectors as registry_selectors
from registry import services as registry_services
from registry.downloads import artifact_response
from registry.forms import ModelCardForm, ModelForm, ModelSearchForm, VersionForm
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
    filters = valid_query(request, ModelSearchForm)
    sort = filters["sort"] or "name"
    models = registry_selectors.model_list(user=request.user, search=filters["q"], sort=sort)
    return render(
        request,
        "models/list.html",
        {
            "page": paginate(request, models),
            "form": form,
            "can_register": can_register,
            "search": filters["q"],
            "sort": sort,
            "sorts": ModelSearchForm.base_fields["sort"].choices,
        },
        status=400 if form.errors else 200,
    )


def model_page(request, model, *, status=200, **bound_forms):
    """The model page; a view answering a refused POST passes its bound form (``rollback_form=``,
    ``dataset_form=``, ...) to show it with its errors."""
    versions = page_parts.with_rows(registry_selectors.version_list(model=model))
    context = {
        "model": model,
        "page": paginate(request, versions),
        "production": registry_selectors.production_version(model=model),
        "can_register": registry_permissions.can(request.user, registry_permissions.REGISTER_VERSION, model),
        "version_form": VersionForm(),
        **page_parts.model_context(request, model),
        **bound_forms,
    }
    return render(request, "models/detail.html", context, status=status)


@login_required
def model_detail(request, name):
    return model_page(request, registry_selectors.model_get(user=request.user, name=name))


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
    comparison = []
    if production is not None and production.pk != version.pk:
        for metric, value in version.metrics.items():
            baseline = production.metrics.get(metric)
            comparison.append((metric, value, baseline, None if baseline is None else value - baseline))
    return render(
        request,
        "models/version.html",
        {
            "version": version,
            "model": version.model,
            "production": production,
            "comparison": comparison,
            "can_edit_card": not version.is_submitted
            and registry_permissions.can(request.user, registry_permissions.REGISTER_VERSION, version.model),
            "card_form": card_form or ModelCardForm(initial=ModelCardForm.initial_from(version.model_card)),
            "card_fields": [(label, version.model_card.get(key)) for key, label, _ in model_cards.FIELDS],
            **page_parts.version_context(request, version),
        },
        status=status,
    )


@login_required
def version_artifact(request, name, number):
    """The artifact as an attachment (never rendered); invisible versions are a 404."""
    version = registry_selectors.version_get(user=request.user, name=name, number=number)
    return artifact_response(version=version, actor=request.user)
