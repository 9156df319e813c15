"""Reads of the registry for pages and the API, scoped to what the user may see."""

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from config.prepared import PreparedValues, columns, instance
from registry import roles
from registry.models import ModelVersion, RegisteredModel
from registry.permissions import models_visible_to, note_visible


def model_list(*, user) -> QuerySet[RegisteredModel]:
    """Visible models with their team, version count, latest and production version numbers."""
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
        .order_by("name")
    )


def _visible_model(shape, *, user_id, group_ids, name) -> QuerySet:
    user = roles.stand_in(shape, user_id=user_id, group_ids=group_ids)
    return models_visible_to(user).filter(name=name).order_by().values(*columns(RegisteredModel, "team", "created_by"))


_VISIBLE_MODEL = PreparedValues(_visible_model)


def model_get(*, user, name: str) -> RegisteredModel:
    """The model called ``name`` (with its team and author) if ``user`` may see it; Http404
    otherwise, visible or not.

    Nearly every page and API call about a model starts here, so its permission-filtered query
    is compiled once per shape of user (``config.prepared``): 0.4 ms instead of 3.6 ms of CPU."""
    shape, values = roles.prepared_for(user)
    found = _VISIBLE_MODEL.rows(shape, **values, name=name)[0:1]
    if not found:
        raise Http404(f"No model called {name!r}.")
    model = instance(RegisteredModel, found[0], "team", "created_by")
    note_visible(user, model)
    return model


def version_list(*, model: RegisteredModel) -> QuerySet[ModelVersion]:
    return model.versions.select_related("created_by").order_by("-number")


def version_get(*, user, name: str, number: int) -> ModelVersion:
    model = model_get(user=user, name=name)
    try:
        return model.versions.select_related("created_by").get(number=number)  # its model is ``model``
    except ModelVersion.DoesNotExist:
        raise Http404(f"{name} has no version {number}.") from None


def production_version(*, model: RegisteredModel) -> ModelVersion | None:
    return model.versions.filter(stage=ModelVersion.Stage.PRODUCTION).first()
