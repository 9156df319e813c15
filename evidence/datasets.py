"""Evaluation datasets: uploaded per model, read by the worker in the sandbox, never changed afterwards."""

import csv
import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from config.errors import Busy
from evidence.checks.inputs import StoredFile
from evidence.measurements import sandbox_input
from evidence.models import EvaluationDataset, JobKind
from evidence.sandbox import run_in_sandbox
from evidence.sandbox.evaluation import missing_columns_problem
from jobs import runner as jobs
from registry import permissions as registry_permissions
from registry.models import RegisteredModel, sha256_of
from registry.validation import text_problem, validate_artifact

FORMATS = {".csv": EvaluationDataset.Format.CSV, ".parquet": EvaluationDataset.Format.PARQUET}
HEADER_BYTES = 1024 * 1024  # a CSV header line longer than this is refused unread


def _column_list(value, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item and len(item) <= 200 for item in value):
        raise ValidationError({what: "Give a list of column names."})
    for item in value:
        if text_problem(item):
            raise ValidationError({what: f"A column name {text_problem(item)}."})
    return value


class TooManyBeingRead(Busy):
    """The uploader already has as many datasets being read as the limit allows (HTTP 429)."""


def evaluation_dataset_register(
    *,
    model: RegisteredModel,
    file,
    name: str,
    target_column: str,
    actor,
    sensitive_columns: list | None = None,
    description: str = "",
) -> EvaluationDataset:
    """Upload ``file`` (CSV or Parquet) as a hold-out dataset of ``model``; the worker reads it.

    What can be judged here is judged at once, from the first bytes (name, format, size, the CSV
    header: column count, target and sensitive columns): a ValidationError says what is wrong
    and nothing is written. Otherwise the file is stored with the dataset ``profiling`` and a job
    reads it in the sandbox (``evaluation_dataset_profile``): rows, columns and types, or why it
    is refused. An uploader has at most ``SIGNOFF_MAX_DATASETS_BEING_READ`` being read at once."""
    refusal = registry_permissions.refusal(actor, registry_permissions.REGISTER_DATASET, model)
    if refusal:
        raise PermissionDenied(refusal)
    sensitive = _column_list(sensitive_columns or [], "sensitive_columns")
    if not isinstance(target_column, str) or not target_column or text_problem(target_column):
        raise ValidationError({"target_column": "Name the column holding the true outcome."})
    if text_problem(description):
        raise ValidationError({"description": f"The description {text_problem(description)}."})
    try:
        validate_artifact(file)
    except ValidationError as error:
        raise ValidationError(
            {"file": [message.replace("artifact", "dataset") for message in error.messages]}
        ) from None
    extension = os.path.splitext(getattr(file, "client_name", None) or file.name)[1].lower()
    if extension not in FORMATS:
        raise ValidationError({"file": "Upload a .csv or .parquet file."})
    if file.size > settings.SIGNOFF_MAX_DATASET_BYTES:
        raise ValidationError(
            {"file": f"The dataset is {file.size:,} bytes; the limit is {settings.SIGNOFF_MAX_DATASET_BYTES:,}."}
        )
    dataset = EvaluationDataset(
        model=model,
        name=name,
        description=description,
        format=FORMATS[extension],
        sha256=sha256_of(file),
        size=file.size,
        target_column=target_column,
        sensitive_columns=sensitive,
        created_by=actor,
    )
    dataset.full_clean(
        exclude=["file", "row_count", "columns", "model", "created_by", "status"], validate_constraints=False
    )
    problem = header_problem(file, dataset)
    if problem:
        raise ValidationError({"file": problem})
    try:
        with transaction.atomic():
            # One uploader's uploads queue behind each other here: the count cannot be raced.
            get_user_model().objects.select_for_update().filter(pk=actor.pk).first()
            being_read = EvaluationDataset.objects.filter(created_by=actor, status=EvaluationDataset.Status.PROFILING)
            limit = settings.SIGNOFF_MAX_DATASETS_BEING_READ
            if being_read.count() >= limit:
                raise TooManyBeingRead(
                    f"You have {limit} dataset{'s' if limit != 1 else ''} being read already; "
                    "upload this one when one of them is ready or refused."
                )
            if _name_taken(model, name):
                raise ValidationError({"name": f"{model.name} already has a dataset called {name!r}."})
            dataset.file.save(os.path.basename(file.name), file, save=False)
            dataset.save()
            audit_record(
                actor=actor,
                verb="dataset.uploaded",
                obj=dataset,
                model=model,
                data={"name": name, "sha256": dataset.sha256, "size": dataset.size},
            )
            jobs.job_enqueue(JobKind.PROFILE_DATASET, dataset.pk)
    except IntegrityError:
        dataset.file.delete(save=False)
        raise ValidationError({"name": f"{model.name} already has a dataset called {name!r}."}) from None
    except BaseException:  # nothing half-written: no stored file without its row
        if dataset.file:
            dataset.file.delete(save=False)
        raise
    return dataset


def _name_taken(model, name) -> bool:
    return model.datasets.filter(name=name).exclude(status=EvaluationDataset.Status.REFUSED).exists()


def header_problem(file, dataset: EvaluationDataset) -> str | None:
    """What the first bytes already show to be wrong with the upload, or None: read without
    parsing the file (a CSV's header line, a Parquet file's magic bytes), so an absurd file is
    refused before anything reads it whole."""
    file.seek(0)
    head = file.read(HEADER_BYTES)
    file.seek(0)
    if dataset.format == EvaluationDataset.Format.PARQUET:
        file.seek(max(0, dataset.size - 4))
        tail = file.read(4)
        file.seek(0)
        if dataset.size < 12 or head[:4] != b"PAR1" or tail != b"PAR1":
            return "The file could not be read as Parquet: it does not start and end with Parquet's PAR1 marker."
        return None
    line, newline, rest = head.partition(b"\n")
    if not newline and len(head) == HEADER_BYTES:
        return f"The file could not be read as CSV: its header line is longer than {HEADER_BYTES:,} bytes."
    try:
        text = line.decode("utf-8").removeprefix("\ufeff").rstrip("\r")
    except UnicodeDecodeError:
        return "The file could not be read as CSV: its header line is not UTF-8 text."
    columns = next(csv.reader([text]), [])
    limit = settings.SIGNOFF_MAX_DATASET_COLUMNS
    if len(columns) > limit:
        return f"The file has {len(columns):,} columns; the limit is {limit:,}."
    problem = column_names_problem(columns)
    if problem:
        return problem
    if not rest.strip():
        return "The file holds no rows."
    return missing_columns_problem(columns, [dataset.target_column, *dataset.sensitive_columns])


def column_names_problem(columns: list[str]) -> str | None:
    """What is wrong with the first bad column name (NUL, a lone surrogate, over 200 characters), or None."""
    for position, column in enumerate(columns, start=1):
        if text_problem(column) or len(column) > 200:
            return f"Column {position}'s name {text_problem(column) or 'is longer than 200 characters'}."
    return None


def evaluation_dataset_profile(*, dataset_id: int) -> None:
    """The worker's part: read the uploaded file in the sandbox; the dataset becomes ``ready``
    with its rows and columns (audited ``dataset.registered``), or ``refused`` with the reason
    (audited ``dataset.refused``; its bytes deleted, its name free). Runs once: a dataset no
    longer being read is left as it is."""
    dataset = EvaluationDataset.objects.select_related("model", "created_by").get(pk=dataset_id)
    if dataset.status != EvaluationDataset.Status.PROFILING:
        return
    try:
        profile = _profile(dataset)
    except FileNotFoundError:
        profile = {"ok": False, "error": "The uploaded file is missing from storage."}
    except OSError as error:
        raise jobs.TransientError(f"could not read the uploaded file: {error}") from error
    problem = profile.get("error", "The file could not be read.") if not profile.get("ok") else None
    if problem is None:
        problem = column_names_problem([str(column.get("name", "")) for column in profile["columns"]])
    _conclude(dataset_id, problem=problem, profile=profile)


def evaluation_dataset_refuse(*, dataset_id: int, reason: str) -> None:
    """The outcome when reading the file failed for good (the job's attempts ran out)."""
    _conclude(dataset_id, problem=f"The file could not be read: {reason}"[:500], profile={})


def _conclude(dataset_id: int, *, problem: str | None, profile: dict) -> None:
    with transaction.atomic():
        dataset = EvaluationDataset.objects.select_for_update().select_related("model", "created_by").get(pk=dataset_id)
        if dataset.status != EvaluationDataset.Status.PROFILING:
            return
        dataset.profiled_at = timezone.now()
        if problem:
            dataset.status, dataset.problem = EvaluationDataset.Status.REFUSED, problem
            dataset.save(update_fields=["status", "problem", "profiled_at"])
            stored = dataset.file.name
            transaction.on_commit(lambda: dataset.file.storage.delete(stored))
            verb, data = "dataset.refused", {"name": dataset.name, "sha256": dataset.sha256, "problem": problem}
        else:
            dataset.status = EvaluationDataset.Status.READY
            dataset.row_count, dataset.columns = profile["rows"], profile["columns"]
            dataset.save(update_fields=["status", "row_count", "columns", "profiled_at"])
            verb = "dataset.registered"
            data = {"name": dataset.name, "sha256": dataset.sha256, "rows": dataset.row_count}
        # The uploader's act, carried out by the worker: the record names the person.
        audit_record(actor=dataset.created_by, verb=verb, obj=dataset, model=dataset.model, data=data)


def _profile(dataset: EvaluationDataset) -> dict:
    result = run_in_sandbox(
        "evidence.sandbox.evaluation:profile_dataset",
        {
            "format": dataset.format,
            "target": dataset.target_column,
            "sensitive": dataset.sensitive_columns,
            "max_rows": settings.SIGNOFF_MAX_DATASET_ROWS,
            "max_columns": settings.SIGNOFF_MAX_DATASET_COLUMNS,
        },
        {"dataset": sandbox_input(StoredFile(dataset.file.name, dataset.sha256))},
    )
    return result.output if result.ok else {"ok": False, "error": result.error}
