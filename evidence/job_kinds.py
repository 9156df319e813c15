"""This app's kind of background work, registered with the runner: reading an uploaded dataset."""

from evidence import datasets
from evidence.models import EvaluationDataset, JobKind
from jobs import runner as jobs


@jobs.database_hiccups_are_transient
def profile_dataset(dataset_id, *, final_attempt):
    datasets.evaluation_dataset_profile(dataset_id=dataset_id)


def register_kinds() -> None:
    """Called from ``EvidenceConfig.ready()``."""
    jobs.register(
        JobKind.PROFILE_DATASET,
        target=EvaluationDataset,
        run=profile_dataset,
        fail=lambda pk, reason: datasets.evaluation_dataset_refuse(dataset_id=pk, reason=reason),
    )
