"""Measurements: a version measured on an evaluation dataset in the sandbox, stored once and
shared by the checks that need the figures (re-evaluation, measured metric thresholds) and by
the comparison pages."""

import contextlib
import fcntl
import hashlib
import os

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from audit.services import audit_record
from evidence.checks.base import CheckOutcome, TransientCheckError
from evidence.checks.inputs import DatasetRef, StoredFile, VersionRef
from evidence.models import Measurement
from evidence.sandbox import SandboxInput, run_in_sandbox
from jobs.faults import fault_task


def sandbox_inputs(version: VersionRef, dataset: DatasetRef | None = None, **others) -> dict[str, SandboxInput]:
    """The version's artifact (and the dataset's file, and other versions' artifacts under the
    given names) as sandbox inputs, each with the SHA-256 recorded for it."""
    inputs = {"artifact": sandbox_input(version.artifact)}
    for name, other in others.items():
        inputs[name] = sandbox_input(other.artifact)
    if dataset is not None:
        inputs["dataset"] = sandbox_input(dataset.file)
    return inputs


def sandbox_input(stored: StoredFile) -> SandboxInput:
    return SandboxInput(source=None, sha256=stored.sha256, opener=stored.open)


def sandboxed(
    task: str, version: VersionRef, payload: dict, dataset: DatasetRef | None = None, **others
) -> CheckOutcome:
    """Run ``task`` on ``version``'s artifact (and ``dataset``'s file) in the sandbox; any way it
    can end is an outcome."""
    task, payload = fault_task(task, payload)
    try:
        result = run_in_sandbox(task, payload, sandbox_inputs(version, dataset, **others))
    except FileNotFoundError:
        return CheckOutcome(False, "The artifact file is missing from storage.", {})
    except OSError as error:
        raise TransientCheckError(f"could not read the artifact: {error}") from error
    sandbox = {"isolated_network": result.isolated_network}
    if not result.ok:
        return CheckOutcome(False, result.error, {"sandbox": sandbox}, log=result.stderr)
    output = result.output
    return CheckOutcome(
        bool(output.get("passed")), str(output.get("summary", "")), {**output.get("details", {}), "sandbox": sandbox}
    )


def dataset_payload(version: VersionRef, dataset: DatasetRef, **payload) -> dict:
    return {
        "artifact_name": os.path.basename(version.artifact.name),
        "format": dataset.format,
        "target": dataset.target_column,
        "max_rows": settings.SIGNOFF_MAX_DATASET_ROWS,
        **payload,
    }


def measurement_for(version: VersionRef, dataset: DatasetRef) -> Measurement | CheckOutcome:
    """The version's measurement on ``dataset``: the stored one, or measured now in the sandbox
    and stored (audited). A version that cannot be measured gives the failed outcome instead."""
    stored = Measurement.objects.filter(version_id=version.id, dataset_id=dataset.id).first()
    if stored is not None:
        return stored
    with _measuring(version.id, dataset.id):
        # The checks that need this measurement start together on several workers: one measures,
        # the others wait here and read what it stored.
        stored = Measurement.objects.filter(version_id=version.id, dataset_id=dataset.id).first()
        if stored is not None:
            return stored
        return _measure(version, dataset)


@contextlib.contextmanager
def _measuring(version_id: int, dataset_id: int):
    """Held while one process measures the version on the dataset: a PostgreSQL advisory lock (any
    host), or on SQLite (one host) a byte-range lock on a file. Either goes with its process, so
    a worker killed while measuring holds nobody up."""
    digest = hashlib.blake2b(f"measure:{version_id}:{dataset_id}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    path = settings.VAR_DIR / "measuring.lock"
    with open(path, "a+b") as lock:
        offset = key % 2**31
        fcntl.lockf(lock, fcntl.LOCK_EX, 1, offset)
        try:
            yield
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN, 1, offset)


def _measure(version: VersionRef, dataset: DatasetRef) -> Measurement | CheckOutcome:
    payload = dataset_payload(version, dataset, sensitive=list(dataset.sensitive_columns))
    outcome = sandboxed("evidence.sandbox.evaluation:measure", version, payload, dataset=dataset)
    if not outcome.passed:
        return outcome
    details = {key: value for key, value in outcome.details.items() if key not in ("metrics", "task", "sandbox")}
    try:
        with transaction.atomic():
            measurement = Measurement.objects.create(
                version_id=version.id,
                dataset_id=dataset.id,
                task=outcome.details["task"],
                metrics=outcome.details["metrics"],
                details=details,
            )
            audit_record(
                actor=None,
                verb="version.measured",
                obj=measurement,
                model=measurement.version.model,
                data={"version": version.number, "dataset": dataset.name, "metrics": measurement.metrics},
            )
    except IntegrityError:  # measured at the same moment by another check: the first one stands
        return Measurement.objects.get(version_id=version.id, dataset_id=dataset.id)
    return measurement
