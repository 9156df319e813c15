"""Emergency releases (break-glass), services: an urgent fix goes past the human steps still
waiting, with a justification, a second person's agreement and a retrospective review.

Who may ask and who may agree is the workflow's ``break_glass`` (default: an IT engineer asks, a
manager agrees; ``approvals.permissions``). Once released, in the transaction that records the
agreement:

- every approval and policy step not yet finished is skipped ("skipped by the emergency release");
- the deployment step, if the workflow has one, carries the asker's go-ahead (a ``Decision`` of
  theirs, with the justification) and deploys as soon as the steps before it (promotions, checks:
  nothing automated is skipped) are done;
- the version is flagged "emergency release" wherever it shows;
- a retrospective review step is added after the last step, for ``break_glass.retrospective_by``,
  due within ``retrospective_due``; overdue, it escalates like any step with a deadline.

Each ask, agreement and refusal is audited and e-mailed.
"""

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from approvals import permissions, selectors
from approvals.engine import audit_step, deploy_now, finish_step, request_advance
from approvals.models import Decision, EmergencyRelease, PromotionRequest, StepState
from approvals.revisions import request_definition
from approvals.services import UNCHECKED, ensure_no_deployment_meanwhile
from approvals.signals import RequestEvent, announce
from audit.services import audit_record
from config.errors import Conflict
from evidence import comparison
from registry.services import model_version_flag_emergency
from registry.validation import clean_text

MAX_TEXT = 5000
SKIPPED_KINDS = (StepState.Kind.APPROVAL, StepState.Kind.POLICY)
NOT_FINISHED = (StepState.Status.PENDING, StepState.Status.WAITING)


class EmergencyConflict(Conflict):
    """Not possible in the request's or the release's current state (HTTP 409)."""


def _text(value: str, *, what: str, required: str) -> str:
    return clean_text(value, field=what, limit=MAX_TEXT, required=required)


def _lock(request_id: int) -> PromotionRequest:
    return (
        PromotionRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related("model", "version", "revision")
        .get(pk=request_id)
    )


def _ensure_waiting(request: PromotionRequest) -> None:
    if request.status != PromotionRequest.Status.AWAITING_REVIEW:
        raise EmergencyConflict(
            f"Request #{request.pk} is {request.get_status_display().lower()}; an emergency release takes a request "
            "past people's steps that are waiting."
        )


def emergency_request(*, request: PromotionRequest, actor, justification: str) -> EmergencyRelease:
    """``actor`` asks to release ``request``'s version now, saying why; the people who may agree are told."""
    refusal = permissions.refusal(actor, permissions.EMERGENCY, request)
    if refusal:
        raise PermissionDenied(refusal)
    justification = _text(
        justification, what="justification", required="Say why it cannot wait; the person who agrees reads it."
    )
    with transaction.atomic():
        locked = _lock(request.pk)
        _ensure_waiting(locked)
        try:
            with transaction.atomic():
                emergency = EmergencyRelease.objects.create(
                    request=locked, requested_by=actor, justification=justification
                )
        except IntegrityError:
            raise EmergencyConflict(f"An emergency release of request #{locked.pk} is already asked for.") from None
        audit_record(
            actor=actor, verb="emergency.requested", obj=emergency, model=locked.model, request=locked,
            comment=justification, data={"version": locked.version.number},
        )  # fmt: skip
        announce(locked, RequestEvent.EMERGENCY_REQUESTED, actor=actor, emergency=emergency)
    return emergency


def emergency_decide(*, emergency: EmergencyRelease, actor, release: bool, comment: str = "") -> EmergencyRelease:
    """A second person agrees to ``emergency`` (the request goes on past its people's steps) or
    refuses it, saying why (the request goes on as before)."""
    refusal = permissions.refusal(actor, permissions.SECOND_EMERGENCY, emergency)
    if refusal:
        raise PermissionDenied(refusal)
    comment = _text(comment, what="comment", required="" if release else "Say why you refuse it.")
    with transaction.atomic():
        locked = _lock(emergency.request_id)
        emergency = EmergencyRelease.objects.select_related("requested_by").get(pk=emergency.pk)
        if emergency.status != EmergencyRelease.Status.REQUESTED:
            raise EmergencyConflict(f"This emergency release was already {emergency.get_status_display().lower()}.")
        _ensure_waiting(locked)
        emergency.status = EmergencyRelease.Status.RELEASED if release else EmergencyRelease.Status.REFUSED
        emergency.decided_by, emergency.decided_at, emergency.comment = actor, timezone.now(), comment
        if release:
            _release(locked, emergency)
        emergency.save(update_fields=["status", "decided_by", "decided_at", "comment", "retrospective"])
        audit_record(
            actor=actor, verb=f"emergency.{emergency.status}", obj=emergency, model=locked.model, request=locked,
            comment=comment, data={"justification": emergency.justification, "requested_by":
                                   emergency.requested_by.username, "version": locked.version.number},
        )  # fmt: skip
        announce(locked, RequestEvent.EMERGENCY_DECIDED, actor=actor, emergency=emergency)
        if release:
            request_advance(locked)
    return emergency


def _release(request: PromotionRequest, emergency: EmergencyRelease) -> None:
    """Skip people's steps, give the deployment its go-ahead, flag the version, add the retrospective."""
    steps = list(request.steps.filter(status__in=NOT_FINISHED).order_by("position"))
    for step in steps:
        if step.kind in SKIPPED_KINDS:
            was = step.status
            step.result = {**step.result, "emergency": emergency.pk}
            finish_step(step, StepState.Status.SKIPPED)
            audit_step(request, step, "step.skipped", from_state=was, to_state=StepState.Status.SKIPPED,
                       comment="Skipped by the emergency release.", data={"step": step.name,
                                                                          "emergency": emergency.pk})  # fmt: skip
        elif step.kind == StepState.Kind.DEPLOYMENT:
            ensure_no_deployment_meanwhile(request, UNCHECKED)
            _go_ahead(request, step, emergency)
    model_version_flag_emergency(version=request.version)
    emergency.retrospective = _retrospective(request, emergency)


def _go_ahead(request: PromotionRequest, step: StepState, emergency: EmergencyRelease) -> None:
    """The asker's go-ahead on the deployment step, recorded as theirs with the evidence of now."""
    evidence = selectors.request_evidence(request=request)
    Decision.objects.create(
        request=request, step=step, actor=emergency.requested_by, verdict=Decision.Verdict.APPROVE,
        comment=f"Emergency release: {emergency.justification}", round=step.round, evidence=evidence,
        evidence_digest=comparison.digest(evidence),
    )  # fmt: skip
    step.result = {**step.result, "emergency": emergency.pk}
    step.save(update_fields=["result"])
    if step.status == StepState.Status.WAITING:
        deploy_now(step)


def _retrospective(request: PromotionRequest, emergency: EmergencyRelease) -> StepState:
    """The review of the release, after every other step, with the workflow's deadline for it."""
    glass = request_definition(request).break_glass
    last = request.steps.aggregate(last=Max("position"))["last"]
    taken = set(request.steps.values_list("name", flat=True))
    name = next(n for n in ("retrospective", "emergency_retrospective", f"retrospective_{emergency.pk}")
                if n not in taken)  # fmt: skip
    # A reviewer of an earlier step may review the release too: it is a review of the emergency,
    # not a second review of the model (whoever took part in the release may not: permissions).
    earlier = [step.name for step in request.steps.all() if step.is_human]
    step = StepState.objects.create(
        request=request,
        position=last + 1,
        allow_deciders_of="".join(f",{name}" for name in earlier) + "," if earlier else "",
        name=name,
        title="Retrospective of the emergency release",
        kind=StepState.Kind.RETROSPECTIVE,
        config={
            "approvers": list(glass.retrospective_by), "users": [], "required_approvals": 1, "on_reject": "reject",
            "due": glass.retrospective_due, "escalate_to": list(glass.escalate_to),
            "escalate_to_users": list(glass.escalate_to_users), "emergency": emergency.pk,
        },
    )  # fmt: skip
    step.approver_groups.set(Group.objects.filter(name__in=glass.retrospective_by))
    audit_step(request, step, "step.added", data={"step": step.name, "emergency": emergency.pk,
                                                  "due": glass.retrospective_due})  # fmt: skip
    return step
