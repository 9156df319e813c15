"""Reads of evidence: a model's evaluation datasets, its metrics over its versions."""

from django.db.models import QuerySet
from django.http import Http404

from evidence.models import EvaluationDataset, Measurement


def dataset_list(*, model) -> QuerySet[EvaluationDataset]:
    return model.datasets.select_related("model", "created_by").order_by("-created_at", "-pk")


def dataset_get(*, model, name: str) -> EvaluationDataset:
    """The model's dataset called ``name``: the one in use, else the latest refused upload of
    that name (404 when there is none)."""
    dataset = dataset_list(model=model).filter(name=name).first()
    if dataset is None:
        raise Http404(f"{model.name} has no dataset called {name!r}.")
    return dataset


def metric_trends(*, model, limit: int = 20) -> dict:
    """Each metric of the model's latest ``limit`` versions, oldest first: reported and measured
    (on the latest dataset each was measured on). Two queries."""
    versions = list(model.versions.only("pk", "model_id", "number", "metrics").order_by("-number")[:limit])[::-1]
    measured = {}
    for measurement in Measurement.objects.filter(version_id__in=[v.pk for v in versions]).order_by("created_at"):
        measured[measurement.version_id] = measurement.metrics
    names = []
    for version in versions:
        for name in [*version.metrics, *measured.get(version.pk, {})]:
            if name not in names:
                names.append(name)
    series = {
        name: [
            {"version": v.number, "reported": v.metrics.get(name), "measured": measured.get(v.pk, {}).get(name)}
            for v in versions
        ]
        for name in names
    }
    return {"versions": [v.number for v in versions], "series": series}
