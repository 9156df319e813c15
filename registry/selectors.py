"""Reads of the registry for pages and the API, scoped to what the user may see."""

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from registry.models import ModelVersion, RegisteredModel
from registry.permissions import VIEW, model_filter, models_visible_to, note_visible

MODEL_ORDERS = {"name": ("name",), "newest": ("-created_at", "-pk"), "team": ("team__name", "name")}


def model_list(*, user, search: str = "", sort: str = "name") -> QuerySet[RegisteredModel]:
    """Visible models with their team, version count, latest and production version numbers;
    ``search``: part of the name, the description or the team's name; ``sort``: ``MODEL_ORDERS``."""
    versions = ModelVersion.objects.filter(model=OuterRef("pk"))
    # Correlated subqueries, not a JOIN with GROUP BY: they are computed for the rows of the
    # page only, which keeps the list fast with 100,000 versions.
    count = versions.order_by().values("model").annotate(n=Count("pk")).values("n")
    return (
        models_visible_to(user)
        .select_related("team", "created_by")
        .annotate(
            version_count=Coalesce(Subquery(count), 0),
            latest_version=Subquery(versions.order_by("-number").values("number")[:1]),
            production_version=Subquery(versions.filter(stage="production").values("number")[:1]),
        )
        .filter(
            Q(name__icontains=search) | Q(description__icontains=search) | Q(team__name__icontains=search)
            if search.strip()
            else Q()
        )
        .order_by(*MODEL_ORDERS[sort])
    )


def model_get(*, user, name: str) -> RegisteredModel:
    """The model called ``name`` (with its team and author) if ``user`` may see it; Http404
    otherwise, visible or not."""
    model = models_visible_to(user).select_related("team", "created_by").filter(name=name).first()
    if model is None:
        raise Http404(f"No model called {name!r}.")
    note_visible(user, model)
    return model


def version_list(*, model: RegisteredModel) -> QuerySet[ModelVersion]:
    return model.versions.select_related("created_by").order_by("-number")


def version_get(*, user, name: str, number: int) -> ModelVersion:
    """Version ``number`` of the model called ``name`` (with its author, and its model's team and
    author, as ``model_get`` reads them) if ``user`` may see the model, in one query; Http404
    otherwise, saying whether the model or only the version is missing to those who may see it."""
    found = (
        ModelVersion.objects.select_related("model__team", "model__created_by", "created_by")
        .filter(model_filter(user, VIEW, "model"), model__name=name, number=number)
        .first()
    )
    if found is None:
        model_get(user=user, name=name)  # Http404 when no such model is visible to them
        raise Http404(f"{name} has no version {number}.")
    note_visible(user, found.model)
    return found


def production_version(*, model: RegisteredModel) -> ModelVersion | None:
    return model.versions.filter(stage=ModelVersion.Stage.PRODUCTION).first()
