"""Pre-flight, "Check this version" (services): the checks of the workflow a version would go
through, run as a dry run before anyone is asked, like CI on a draft pull request. No request is
made and nothing is decided; the evidence is chosen as a submission would choose it (the model's
latest dataset that no author of the work registered), so what passes here passes there unless
the data or production changes meanwhile. The start is audited (``version.preflight``); each
check is a job, run in the sandbox by the worker like a request's.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from approvals import permissions
from approvals.definitions import DefinitionError
from approvals.models import CheckRun, JobKind, Preflight, PreflightCheck, PromotionRequest
from approvals.revisions import definition_for_model
from approvals.services import SUBMITTABLE_STAGES, InvalidTransition, check_outcome, evidence_dataset
from audit.services import audit_record
from evidence.checks import get_check
from evidence.checks.inputs import check_input
from jobs.faults import fault_point
from jobs.runner import jobs_enqueue_new
from registry.models import ModelVersion

UNFINISHED = (CheckRun.Status.PENDING, CheckRun.Status.RUNNING)
RESUBMITTABLE = (PromotionRequest.Status.FAILED, PromotionRequest.Status.ROLLED_BACK)


def preflight_start(*, version: ModelVersion, actor) -> Preflight:
    """Run the checks of ``version``'s workflow on it now; whoever may submit it may ask."""
    refusal = permissions.refusal(actor, permissions.SUBMIT, version)
    if refusal:
        raise PermissionDenied(refusal.replace("submit its versions", "check its versions"))
    latest = version.promotion_requests.order_by("-submitted_at").first()
    if version.stage not in SUBMITTABLE_STAGES or (latest is not None and latest.status not in RESUBMITTABLE):
        raise InvalidTransition(f"{version} was submitted already; its checks are on its request's page.")
    try:
        revision, definition = definition_for_model(version.model)
    except DefinitionError as error:
        raise InvalidTransition(str(error)) from None
    checks = [check for step in definition.steps if step.type == "checks" for check in step.checks]
    authors = sorted({user_id for user_id, _reason, _version in permissions.authors_of_work(version, actor)})
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update(no_key=True, of=("self",)).get(pk=version.pk)
        running = locked.preflights.filter(status=Preflight.Status.RUNNING).first()
        if running is not None:
            return running  # one at a time: pressing again shows the one under way
        preflight = Preflight.objects.create(
            version=locked, requested_by=actor, revision=revision, dataset=evidence_dataset(locked, authors),
            author_ids=authors, status=Preflight.Status.RUNNING if checks else Preflight.Status.PASSED,
            finished_at=None if checks else timezone.now(),
        )  # fmt: skip
        rows = PreflightCheck.objects.bulk_create(
            PreflightCheck(
                preflight=preflight,
                position=position,
                check_type=check["type"],
                config=_config(check),
                title=get_check(check["type"]).describe(_config(check)),
            )  # fmt: skip
            for position, check in enumerate(checks)
        )
        audit_record(
            actor=actor, verb="version.preflight", obj=locked, model=locked.model,
            data={"number": locked.number, "workflow": definition.name, "revision": revision.number,
                  "checks": len(rows), "dataset": preflight.dataset.sha256 if preflight.dataset else None},
        )  # fmt: skip
        jobs_enqueue_new(JobKind.RUN_PREFLIGHT_CHECK, [row.pk for row in rows], share=locked.model.team_id)
    return preflight


def _config(check: dict) -> dict:
    return {key: value for key, value in check.items() if key != "type"}


def preflight_check_execute(*, check_id: int, final_attempt: bool = True) -> None:
    """Run one check of a pre-flight and record it; the last one to finish concludes the pre-flight."""
    started = PreflightCheck.objects.filter(pk=check_id, status__in=UNFINISHED).update(
        status=CheckRun.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1
    )
    if not started:
        return
    row = PreflightCheck.objects.select_related("preflight__version__model", "preflight__dataset").get(pk=check_id)
    preflight = row.preflight
    given = check_input(preflight.version, dataset=preflight.dataset, author_ids=preflight.author_ids)
    status, fields = check_outcome(row, given, final_attempt=final_attempt)
    preflight_check_record(check_id=row.pk, status=status, **fields)


def preflight_check_record(*, check_id: int, status: str, summary: str, result=None, log: str = "") -> None:
    """Write one outcome once; when it was the last, the pre-flight passes or fails in the same transaction."""
    with transaction.atomic():
        row = PreflightCheck.objects.select_related("preflight").get(pk=check_id)
        Preflight.objects.select_for_update().get(pk=row.preflight_id)  # the last two to finish queue here
        recorded = PreflightCheck.objects.filter(pk=check_id, status__in=UNFINISHED).update(
            status=status, finished_at=timezone.now(), summary=summary, result=result or {}, log=log
        )
        fault_point("during_preflight")
        statuses = list(PreflightCheck.objects.filter(preflight_id=row.preflight_id).values_list("status", flat=True))
        if recorded and not any(s in UNFINISHED for s in statuses):
            passed = all(s == CheckRun.Status.PASSED for s in statuses)
            Preflight.objects.filter(pk=row.preflight_id, status=Preflight.Status.RUNNING).update(
                status=Preflight.Status.PASSED if passed else Preflight.Status.FAILED, finished_at=timezone.now()
            )


def preflight_check_fail(*, check_id: int, reason: str) -> None:
    """The job failed for good: the check reads as an error, and the pre-flight concludes."""
    preflight_check_record(
        check_id=check_id, status=CheckRun.Status.ERROR, summary=f"The check could not run: {reason}"
    )
