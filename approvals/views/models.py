"""The workflow's parts of the registry's model and version pages (``registry.page_parts``):
each version's latest request, decisions, stage timeline, rollback, submission, check runs;
and the two actions, submit and rollback."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from approvals import permissions, preflight, selectors, services
from approvals.forms import RollbackForm
from approvals.models import PromotionRequest
from config.pages import form_errors_from
from registry import selectors as registry_selectors
from registry.views import model_page


def version_rows(versions):
    """Each version of the model page with its latest request's id and status."""
    latest = PromotionRequest.objects.filter(version=OuterRef("pk")).order_by("-submitted_at")
    return versions.annotate(
        request_id=Subquery(latest.values("pk")[:1]), request_status=Subquery(latest.values("status")[:1])
    )


def who_decides(model) -> dict:
    """ "Who decides what" on the model page: the steps of the workflow it follows and the people
    who could decide each for its latest version (the workflow's dry run); nothing is written."""
    from approvals.definitions import DefinitionError
    from approvals.revisions import definition_for_model, workflow_dry_run

    try:
        revision, _definition = definition_for_model(model)
    except DefinitionError as error:
        return {"who_decides": [], "who_decides_error": str(error)}
    return {"who_decides": workflow_dry_run(revision=revision, model=model), "who_decides_revision": revision}


def model_page_part(request, model) -> dict:
    can_rollback = permissions.can(request.user, permissions.ROLLBACK, model)
    targets = services.rollback_targets(model=model) if can_rollback else []
    production = registry_selectors.production_version(model=model)
    initial = {"production_seen": production.number if production else None}
    return {
        **who_decides(model),
        "history": selectors.model_history(model=model)[:25],
        "stage_timeline": selectors.stage_timeline(model=model),
        "can_rollback": can_rollback,
        "rollback_form": RollbackForm(targets=targets, initial=initial) if targets else None,
        "status_labels": dict(PromotionRequest.Status.choices),
    }


def version_page_part(request, version) -> dict:
    requests = list(selectors.version_requests(version=version))
    # The service decides; this only hides a button that would certainly be refused.
    can_submit = (
        version.stage in services.SUBMITTABLE_STAGES
        and (
            not requests or requests[0].status in (PromotionRequest.Status.FAILED, PromotionRequest.Status.ROLLED_BACK)
        )
        and permissions.can(request.user, permissions.SUBMIT, version)
    )
    return {
        "requests": requests,
        "check_runs": selectors.version_check_runs(version=version),
        "can_submit": can_submit,
        # whoever could submit it may check it first (a dry run: no request)
        "can_preflight": can_submit,
        "preflight": selectors.latest_preflight(version=version),
        "attestation": selectors.latest_attestation(version=version),
    }


@login_required
@require_POST
def version_preflight(request, name, number):
    """ "Check this version": its workflow's checks as a dry run, results on the version page."""
    version = registry_selectors.version_get(user=request.user, name=name, number=number)
    try:
        preflight.preflight_start(version=version, actor=request.user)
    except services.InvalidTransition as error:
        messages.error(request, str(error))
        return redirect(version)
    messages.success(request, "The checks are running on this version; nobody is asked anything.")
    return redirect(f"{version.get_absolute_url()}#preflight")


@login_required
def version_preflight_progress(request, name, number):
    """The pre-flight panel, polled by the page while its checks run."""
    version = registry_selectors.version_get(user=request.user, name=name, number=number)
    if not request.htmx:
        return redirect(version)
    context = {"version": version, "model": version.model, "preflight": selectors.latest_preflight(version=version)}
    return render(request, "models/_preflight.html", context)


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
        return model_page(request, model, rollback_form=form, status=400)
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
        return model_page(request, model, rollback_form=form, status=400)
    messages.success(request, f"{restored} is the production version again.")
    return redirect(model)
