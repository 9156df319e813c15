"""Waivers of failed checks (services): the author asks, with a reason, that a failed check not
stop the request; a holder of a role the checks step names (``waivable_by``), never an author of
the work, grants or refuses it. When every failed check of the step is waived, the request opens
again and goes on from the step after the checks, which reads "passed, with waivers". Each
request, grant and refusal is audited and e-mailed; a waived check shows as waived beside its
failure on the page, in the evidence summary and in the audit log.
"""

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import permissions, selectors
from approvals.engine import audit_step, request_advance
from approvals.models import CheckRun, PromotionRequest, StepState, Waiver
from approvals.signals import RequestEvent, announce
from audit.services import audit_record
from config.errors import Conflict
from registry.validation import clean_text

MAX_REASON = 5000


class WaiverConflict(Conflict):
    """The waiver is not possible in the request's or the waiver's current state (HTTP 409)."""


def _text(value: str, *, what: str, required: bool) -> str:
    return clean_text(
        value, field=what, limit=MAX_REASON, required="Say why; the people who decide read it." if required else ""
    )


def _lock(request_id: int) -> PromotionRequest:
    return (
        PromotionRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related("model", "version")
        .get(pk=request_id)
    )


def waiver_request(*, check_run: CheckRun, actor, reason: str) -> Waiver:
    """The submitter asks that ``check_run``, which failed, be waived."""
    refusal = permissions.refusal(actor, permissions.REQUEST_WAIVER, check_run)
    if refusal:
        raise PermissionDenied(refusal)
    reason = _text(reason, what="reason", required=True)
    with transaction.atomic():
        request = _lock(check_run.step.request_id)
        run = CheckRun.objects.select_related("step").get(pk=check_run.pk)
        if request.status != PromotionRequest.Status.CHECKS_FAILED:
            raise WaiverConflict(
                f"Request #{request.pk} is {request.get_status_display().lower()}; "
                "a waiver is asked for when its checks failed."
            )
        answered = selectors.answered_by(request=request)
        if answered is not None:
            raise WaiverConflict(f"Request #{request.pk} is answered by #{answered}, which carries a fixed version.")
        if run.status not in CheckRun.NOT_PASSED:
            raise WaiverConflict(f"'{run.title}' passed; only a failed check can be waived.")
        try:
            with transaction.atomic():
                waiver = Waiver.objects.create(check_run=run, request=request, requested_by=actor, reason=reason)
        except IntegrityError:
            raise WaiverConflict(f"A waiver of '{run.title}' is already asked for or granted.") from None
        audit_record(
            actor=actor, verb="waiver.requested", obj=waiver, model=request.model, request=request, comment=reason,
            data={"check": run.check_type, "title": run.title, "summary": run.summary},
        )  # fmt: skip
        announce(request, RequestEvent.WAIVER_REQUESTED, step=run.step, actor=actor, waiver=waiver)
    return waiver


def waiver_decide(*, waiver: Waiver, actor, grant: bool, comment: str = "") -> Waiver:
    """Grant or refuse ``waiver`` (a refusal says why). When the grant waives the last failed
    check of the step, the request opens again and goes on."""
    refusal = permissions.refusal(actor, permissions.DECIDE_WAIVER, waiver)
    if refusal:
        raise PermissionDenied(refusal)
    comment = _text(comment, what="comment", required=not grant)
    with transaction.atomic():
        request = _lock(waiver.request_id)
        waiver = Waiver.objects.select_related("check_run__step").get(pk=waiver.pk)
        if waiver.status != Waiver.Status.REQUESTED:
            raise WaiverConflict(f"This waiver was already {waiver.get_status_display().lower()}.")
        if request.status != PromotionRequest.Status.CHECKS_FAILED:
            raise WaiverConflict(f"Request #{request.pk} is {request.get_status_display().lower()} now.")
        waiver.status = Waiver.Status.GRANTED if grant else Waiver.Status.REFUSED
        waiver.decided_by, waiver.decided_at, waiver.comment = actor, timezone.now(), comment
        waiver.save(update_fields=["status", "decided_by", "decided_at", "comment"])
        run = waiver.check_run
        audit_record(
            actor=actor, verb=f"waiver.{waiver.status}", obj=waiver, model=request.model, request=request,
            comment=comment, data={"check": run.check_type, "title": run.title, "reason": waiver.reason},
        )  # fmt: skip
        announce(request, RequestEvent.WAIVER_DECIDED, step=run.step, actor=actor, waiver=waiver)
        if grant:
            _go_on_when_all_waived(request, run.step, actor)
    return waiver


def _go_on_when_all_waived(request: PromotionRequest, step: StepState, actor) -> None:
    failed = set(step.check_runs.filter(status__in=CheckRun.NOT_PASSED).values_list("pk", flat=True))
    waived = set(step.check_runs.filter(waivers__status=Waiver.Status.GRANTED).values_list("pk", flat=True))
    if failed - waived or selectors.answered_by(request=request) is not None:
        return
    step.status, step.result = StepState.Status.PASSED, {**step.result, "waived": sorted(failed)}
    step.save(update_fields=["status", "result"])
    audit_step(request, step, "checks.waived", actor=actor, from_state=StepState.Status.FAILED,
               to_state=StepState.Status.PASSED, data={"step": step.name, "waived": sorted(failed)})  # fmt: skip
    previous = request.status
    request.status, request.closed_at = PromotionRequest.Status.IN_PROGRESS, None
    request.save(update_fields=["status", "closed_at", "updated_at"])
    audit_record(
        actor=actor, verb="request.reopened", obj=request, model=request.model, request=request,
        from_state=previous, to_state=request.status, comment="Every failed check is waived.",
    )  # fmt: skip
    request_advance(request)
