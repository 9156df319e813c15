"""Evaluation datasets: registered per model, profiled in the sandbox, never changed afterwards."""

import os

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from approvals.audit import audit_record
from approvals.models import EvaluationDataset
from approvals.sandbox import SandboxInput, run_in_sandbox
from registry import permissions as registry_permissions
from registry.models import RegisteredModel, sha256_of
from registry.validation import text_problem, validate_artifact

FORMATS = {".csv": EvaluationDataset.Format.CSV, ".parquet": EvaluationDataset.Format.PARQUET}


def _column_list(value, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item and len(item) <= 200 for item in value):
        raise ValidationError({what: "Give a list of column names."})
    for item in value:
        if text_problem(item):
            raise ValidationError({what: f"A column name {text_problem(item)}."})
    return value


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
    """Register ``file`` (CSV or Parquet) as a hold-out dataset of ``model``.

    The file is read in the sandbox to count its rows and infer its columns; a file that cannot
    be read, lacks the target or sensitive columns, or exceeds the configured size or rows is
    refused with a ValidationError saying so, and nothing is written."""
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
    dataset.full_clean(exclude=["file", "row_count", "columns", "model", "created_by"], validate_constraints=False)
    if EvaluationDataset.objects.filter(model=model, name=name).exists():
        raise ValidationError({"name": f"{model.name} already has a dataset called {name!r}."})
    profile = _profile(file, dataset)
    if not profile.get("ok"):
        raise ValidationError({"file": profile.get("error", "The file could not be read.")})
    for position, column in enumerate(profile["columns"], start=1):
        problem = text_problem(str(column.get("name", "")))
        if problem or len(str(column.get("name", ""))) > 200:
            raise ValidationError({"file": f"Column {position}'s name {problem or 'is longer than 200 characters'}."})
    dataset.row_count, dataset.columns = profile["rows"], profile["columns"]
    try:
        with transaction.atomic():
            dataset.file.save(os.path.basename(file.name), file, save=False)
            dataset.save()
            audit_record(
                actor=actor,
                verb="dataset.registered",
                obj=dataset,
                model=model,
                data={"name": name, "sha256": dataset.sha256, "rows": dataset.row_count},
            )
    except IntegrityError:
        dataset.file.delete(save=False)
        raise ValidationError({"name": f"{model.name} already has a dataset called {name!r}."}) from None
    except BaseException:  # nothing half-written: no stored file without its row
        dataset.file.delete(save=False)
        raise
    return dataset


def _profile(file, dataset: EvaluationDataset) -> dict:
    file.seek(0)
    result = run_in_sandbox(
        "approvals.sandbox.evaluation:profile_dataset",
        {
            "format": dataset.format,
            "target": dataset.target_column,
            "sensitive": dataset.sensitive_columns,
            "max_rows": settings.SIGNOFF_MAX_DATASET_ROWS,
        },
        {"dataset": SandboxInput(source=None, sha256=dataset.sha256, opener=lambda: _Unclosed(file))},
    )
    file.seek(0)
    return result.output if result.ok else {"ok": False, "error": result.error}


class _Unclosed:
    """The uploaded file from its start, as a context manager that leaves it open (it is saved
    to storage afterwards)."""

    def __init__(self, file):
        self.file = file
        file.seek(0)

    def read(self, size=-1):
        return self.file.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
