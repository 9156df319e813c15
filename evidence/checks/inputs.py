"""What a check is given: plain, frozen data, no database rows.

A check reads the version's artifact and the dataset through ``StoredFile.open`` (or hands
them to the sandbox with the SHA-256 recorded at upload, which the sandbox verifies), its
reported metrics, parameters and model card, and production's. The workflow's checks step
assembles the input with ``check_input`` (fixing the dataset and the authors of the request)
and stores the ``CheckOutcome`` the check returns.
"""

from dataclasses import dataclass, field

from django.core.files.storage import default_storage


@dataclass(frozen=True)
class StoredFile:
    """A file in Signoff's storage and the SHA-256 recorded for it at upload."""

    name: str
    sha256: str

    def open(self):
        """A new handle each time (a check running at the same moment gets its own)."""
        return default_storage.open(self.name, "rb")


@dataclass(frozen=True)
class VersionRef:
    id: int
    number: int
    artifact: StoredFile
    metrics: dict = field(default_factory=dict)  # as the author reported them
    params: dict = field(default_factory=dict)
    model_card: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetRef:
    id: int
    name: str
    file: StoredFile
    format: str
    target_column: str
    sensitive_columns: tuple[str, ...] = ()
    columns: tuple[dict, ...] = ()  # [{name, dtype}] as read from the file
    row_count: int | None = None
    registered_by: int | None = None  # the user id of whoever uploaded it

    @property
    def sha256(self) -> str:
        return self.file.sha256


@dataclass(frozen=True)
class CheckInput:
    model_id: int
    model_name: str
    version: VersionRef
    production: VersionRef | None  # the model's production version, unless it is this one or none
    dataset: DatasetRef | None  # the evidence fixed for this run (the request's), if any
    datasets: tuple[DatasetRef, ...] = ()  # the model's ready datasets, newest first (for ``dataset:``)
    author_ids: frozenset[int] = frozenset()  # who authored the work: their datasets are no evidence

    def dataset_named(self, name: str) -> DatasetRef | None:
        return next((dataset for dataset in self.datasets if dataset.name == name), None)


LATEST = object()


def version_ref(version) -> VersionRef:
    return VersionRef(
        id=version.pk,
        number=version.number,
        artifact=StoredFile(version.artifact.name, version.artifact_sha256),
        metrics=dict(version.metrics or {}),
        params=dict(version.params or {}),
        model_card=dict(version.model_card or {}),
    )


def dataset_ref(dataset) -> DatasetRef:
    return DatasetRef(
        id=dataset.pk,
        name=dataset.name,
        file=StoredFile(dataset.file.name, dataset.sha256),
        format=dataset.format,
        target_column=dataset.target_column,
        sensitive_columns=tuple(dataset.sensitive_columns or ()),
        columns=tuple(dataset.columns or ()),
        row_count=dataset.row_count,
        registered_by=dataset.created_by_id,
    )


def check_input(version, *, dataset=LATEST, author_ids=()) -> CheckInput:
    """The input of a check on ``version``: ``dataset`` is the request's evidence (None: none),
    by default the model's latest ready dataset (a check run on a version alone)."""
    from evidence.models import EvaluationDataset
    from registry.selectors import production_version

    ready = version.model.datasets.filter(status=EvaluationDataset.Status.READY).order_by("-created_at", "-pk")
    datasets = tuple(dataset_ref(row) for row in ready)
    if dataset is LATEST:
        chosen = datasets[0] if datasets else None
    else:
        chosen = None if dataset is None else dataset_ref(dataset)
    production = production_version(model=version.model)
    return CheckInput(
        model_id=version.model_id,
        model_name=version.model.name,
        version=version_ref(version),
        production=None if production is None or production.pk == version.pk else version_ref(production),
        dataset=chosen,
        datasets=datasets,
        author_ids=frozenset(author_ids),
    )
