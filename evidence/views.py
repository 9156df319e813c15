"""Evidence on the model page: its evaluation datasets (upload, the table polled while one is
being read) and its metric trends, added to the registry's page as a part."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.pages import form_errors_from
from evidence import datasets, selectors
from evidence.forms import DatasetForm
from registry import permissions as registry_permissions
from registry import selectors as registry_selectors
from registry.views import model_page


def model_page_part(request, model) -> dict:
    """The model page's datasets, upload form and metric trends (``registry.page_parts``)."""
    return {
        **_datasets_context(model),
        "dataset_form": DatasetForm(),
        "can_register_dataset": registry_permissions.can(request.user, registry_permissions.REGISTER_DATASET, model),
        "trends": selectors.metric_trends(model=model),
    }


def _datasets_context(model) -> dict:
    shown = list(selectors.dataset_list(model=model)[:20])
    being_read = any(dataset.status == dataset.Status.PROFILING for dataset in shown)
    return {"model": model, "datasets": shown, "datasets_being_read": being_read}


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
    return model_page(request, model, dataset_form=form, status=status)


@login_required
def dataset_list(request, name):
    """The model's datasets table, polled by the model page while an upload is being read."""
    model = registry_selectors.model_get(user=request.user, name=name)
    if not request.htmx:
        return redirect(f"{model.get_absolute_url()}#datasets")
    return render(request, "models/_datasets.html", _datasets_context(model))
