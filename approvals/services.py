"""Every change to a promotion request goes through one of these functions.

Each one locks the request row, checks the transition is allowed, writes the change and its
audit event in one transaction, and schedules side effects (checks, promotion, e-mail) with
``transaction.on_commit`` so nothing runs for a change that was rolled back.

Two kinds of refusal are kept apart: ``PermissionDenied`` (this user may not do this) and
``InvalidTransition`` (nobody may do this now, e.g. the step was already decided).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from approvals import attestations, deployers, permissions, selectors
from approvals.conversation import threads_carry
from approvals.definitions import DefinitionError, WorkflowDefinition
from approvals.engine import (
    ChecksKind,
    audit_step,
    close_request,
    deadline_restart,
    finish_step,
    kind_of,
    request_advance,
    request_reject,
)
from approvals.models import (
    CheckRun,
    Decision,
    JobKind,
    PromotionRequest,
    RequestAuthor,
    StepState,
)
from approvals.signals import RequestEvent, announce
from audit.models import AuditEvent
from audit.services import audit_record
from config.errors import Conflict
from evidence import comparison
from evidence.checks import TransientCheckError, get_check
from evidence.models import EvaluationDataset
from jobs.faults import fault_pause, fault_point
from jobs.runner import job_enqueue
from registry.models import ModelVersion, RegisteredModel
from registry.services import model_version_mark_submitted, model_version_set_stage
from registry.validation import clean_text

Status = PromotionRequest.Status
Step = StepState.Status


# A rolled-back version returns to production only through a new request.
SUBMITTABLE_STAGES = (ModelVersion.Stage.DEVELOPMENT, ModelVersion.Stage.ROLLED_BACK)
MAX_COMMENT = 5000
# For callers that do not say which production version the reviewer saw (scripts, the demo).
UNCHECKED = object()


class InvalidTransition(Conflict):
    """The action is not possible in the request's current state (HTTP 409)."""


class AlreadyDecided(InvalidTransition):
    """Someone else decided this step first."""


# ---------------------------------------------------------------------------------------------
# Submission


def promotion_request_submit(*, version: ModelVersion, actor) -> PromotionRequest:
    """Submit ``version`` for approval: freeze it, create the request and start its first step."""
    refusal = permissions.refusal(actor, permissions.SUBMIT, version)
    if refusal:
        raise PermissionDenied(refusal)
    from approvals.revisions import definition_for_model

    try:
        revision, definition = definition_for_model(version.model)
    except DefinitionError as error:  # nobody can submit until an administrator fixes the workflow
        raise InvalidTransition(str(error)) from None
    with transaction.atomic():
        # Only the version's row: the model row stays free for audit events that refer to it.
        version = (
            ModelVersion.objects.select_for_update(no_key=True, of=("self",)).select_related("model").get(pk=version.pk)
        )
        if version.stage not in SUBMITTABLE_STAGES:
            raise InvalidTransition(
                f"{version} is in {version.get_stage_display()}; only development versions, or versions "
                "rolled back from production, can be submitted."
            )
        previous = version.promotion_requests.order_by("-submitted_at").first()
        if previous is not None and previous.is_open:
            raise InvalidTransition(f"{version} already has an open request (#{previous.pk}).")
        if previous is not None and previous.status not in (Status.FAILED, Status.ROLLED_BACK):
            raise InvalidTransition(
                f"{version} was already reviewed (request #{previous.pk}: {previous.get_status_display().lower()}); "
                "register a new version with the fixes and submit that."
            )
        model_version_mark_submitted(version=version)
        request = PromotionRequest.objects.create(
            model=version.model,
            version=version,
            workflow_name=definition.name,
            workflow_source=definition.source,
            revision=revision,
            submitted_by=actor,
            resubmission_of=_answered_request(version),
        )
        authors = permissions.authors_of_work(version, actor)
        # The evidence is fixed now: the model's latest dataset that no author of the work registered.
        request.dataset = evidence_dataset(version, [user for user, _r, _v in authors])
        if request.dataset is not None:
            request.save(update_fields=["dataset"])
        RequestAuthor.objects.bulk_create(
            RequestAuthor(request=request, user_id=user_id, reason=reason, version_id=of_version)
            for user_id, reason, of_version in authors
        )
        steps = _create_steps(request, definition)
        audit_record(
            actor=actor,
            verb="request.submitted",
            obj=request,
            model=request.model,
            request=request,
            to_state=request.status,
            data={"version": version.number, "workflow": definition.name, "revision": revision.number,
                  "authors": sorted(user_id for user_id, _reason, _version in authors),
                  "dataset": request.dataset.sha256 if request.dataset else None,
                  **({"resubmission_of": request.resubmission_of_id} if request.resubmission_of_id else {})},
        )  # fmt: skip
        del steps
        announce(request, RequestEvent.SUBMITTED, actor=actor)
        if request.resubmission_of_id:
            threads_carry(answered=request.resubmission_of, by=request)
        request_advance(request)
    return request


SENT_BACK = (Status.CHANGES_REQUESTED, Status.CHECKS_FAILED, Status.REJECTED)


def evidence_dataset(version: ModelVersion, author_ids) -> EvaluationDataset | None:
    """The evidence a request for ``version`` would be judged on: the model's latest ready dataset
    that none of ``author_ids`` registered."""
    untouched = version.model.datasets.filter(status=EvaluationDataset.Status.READY).exclude(
        created_by_id__in=list(author_ids)
    )
    return untouched.order_by("-created_at", "-pk").first()


def _answered_request(version: ModelVersion) -> PromotionRequest | None:
    """The request of the version this one fixes, when it came back to its author."""
    if version.derived_from_id is None:
        return None
    latest = PromotionRequest.objects.filter(version_id=version.derived_from_id).order_by("-submitted_at").first()
    return latest if latest is not None and latest.status in SENT_BACK else None


def _create_steps(request: PromotionRequest, definition: WorkflowDefinition) -> list[StepState]:
    """The request's steps, with their approver roles and users: one insert per table."""
    roles = {name for step_def in definition.steps for name in step_def.approvers}
    usernames = {name for step_def in definition.steps for name in step_def.users}
    groups = dict(Group.objects.filter(name__in=roles).values_list("name", "pk"))
    missing = sorted(roles - set(groups))
    if missing:
        raise ValidationError(f"The workflow names roles that do not exist: {', '.join(missing)}.")
    users = dict(get_user_model().objects.filter(username__in=usernames).values_list("username", "pk"))
    steps = StepState.objects.bulk_create(
        StepState(
            request=request,
            position=position,
            name=step_def.name,
            title=step_def.title,
            kind=step_def.type,
            config=step_def.as_config(),
            required_approvals=step_def.required_approvals,
            group=step_def.group,
            allow_deciders_of="".join(f",{name}" for name in step_def.allow_deciders_of) + ","
            if step_def.allow_deciders_of
            else "",
        )
        for position, step_def in enumerate(definition.steps)
    )
    by_role, by_name = StepState.approver_groups.through, StepState.approver_users.through
    human = [(step, step_def) for step, step_def in zip(steps, definition.steps, strict=True) if step_def.is_human]
    by_role.objects.bulk_create(
        by_role(stepstate_id=step.pk, group_id=groups[name]) for step, step_def in human for name in step_def.approvers
    )
    by_name.objects.bulk_create(
        by_name(stepstate_id=step.pk, user_id=users[name])
        for step, step_def in human
        for name in step_def.users
        if name in users
    )
    return steps


# ---------------------------------------------------------------------------------------------
# Moving between steps (always called inside a transaction holding the request lock)


def _lock_model(model_id: int) -> RegisteredModel:
    """Lock the model's row: every change of which version is in production holds it, after the
    request's lock (order: request → model → versions), so such changes never interleave."""
    return RegisteredModel.objects.select_for_update(no_key=True).get(pk=model_id)


def _clean_comment(comment: str, *, what: str = "comment") -> str:
    return clean_text(comment, field=what, limit=MAX_COMMENT)


def _lock_request(request_id: int) -> PromotionRequest:
    # NO KEY UPDATE: audit events and decisions that refer to the request can still be inserted
    # by others meanwhile (their foreign-key checks take KEY SHARE), so no lock waits on them.
    return (
        PromotionRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related("version", "model", "current_step")
        .get(pk=request_id)
    )


# ---------------------------------------------------------------------------------------------
# Human decisions


def step_decide(
    *,
    request: PromotionRequest,
    actor,
    verdict: str,
    comment: str = "",
    step: StepState | None = None,
    production_seen: int | None | object = UNCHECKED,
    evidence_seen: str = "",
) -> Decision:
    """Record ``actor``'s decision on the step of ``request`` they reviewed.

    ``step`` is the step the reviewer saw (the form or API call names it). Without it, the
    step is the one the reviewer's roles cover; someone whose roles cover several steps of the
    request must name it. A step decided meanwhile by someone else raises ``AlreadyDecided``
    (never applied to a later step); nothing changes then.

    ``production_seen`` (deployment steps) is the production version number the reviewer saw,
    None for none (``UNCHECKED``: not compared); when another version reached production
    meanwhile, or is being deployed, the deployment is refused with ``InvalidTransition`` and
    stays possible later.

    The decision stores the evidence summary of the request (``selectors.request_evidence``)
    and its digest. ``evidence_seen`` is the digest of the summary the reviewer was shown; when
    the evidence changed since (a check finished, production changed), the decision is refused
    with a ValidationError and the reviewer looks again.
    """
    comment = _clean_comment(comment)
    if verdict not in Decision.Verdict.values:
        raise ValidationError({"decision": f"Choose one of {', '.join(Decision.Verdict.values)}."})
    if verdict != Decision.Verdict.APPROVE and not comment:
        raise ValidationError({"comment": "Say why, so the author knows what to fix."})
    if step is None:
        mine = permissions.steps_for(actor, request)
        if len(mine) > 1:
            names = ", ".join(f"'{s.name}'" for s in mine)
            raise ValidationError(
                {"step": f"Your roles cover several steps of this request ({names}); name the step you reviewed."}
            )
        step = mine[0] if mine else request.current_step
    if step is None or not request.is_open:
        raise InvalidTransition(
            f"Request #{request.pk} is {request.get_status_display().lower()}; there is nothing to decide."
        )
    if step.request_id != request.pk:
        raise ValidationError({"step": "That step belongs to another request."})
    _ensure_step_waiting(request, step)
    refusal = permissions.refusal(actor, permissions.DECIDE, step)
    if refusal:
        # a decision of theirs in this round is one reason the expression refuses: say so
        if step.decisions.filter(actor_id=actor.pk, round=step.round).exists():
            raise AlreadyDecided(f"You already decided '{step.title}'.")
        raise PermissionDenied(refusal)
    evidence = selectors.request_evidence(request=request)
    shown = comparison.digest(evidence)
    if evidence_seen and evidence_seen != shown:
        raise ValidationError(
            {"evidence_digest": "The evidence changed since you opened the request (a check finished or production "
             "changed); review it again before deciding."}
        )  # fmt: skip

    with transaction.atomic():
        locked = _lock_request(request.pk)
        step = StepState.objects.get(pk=step.pk)
        if step.decisions.filter(actor=actor, round=step.round).exists():
            raise AlreadyDecided(f"You already decided '{step.title}'.")
        _ensure_step_waiting(locked, step)
        if step.kind == StepState.Kind.DEPLOYMENT and verdict == Decision.Verdict.APPROVE:
            ensure_no_deployment_meanwhile(locked, production_seen)
        principal = permissions.on_behalf_of(actor, step)
        decision = Decision.objects.create(
            request=locked, step=step, actor=actor, verdict=verdict, comment=comment, round=step.round,
            evidence=evidence, evidence_digest=shown, on_behalf_of=principal,
        )  # fmt: skip
        audit_step(
            locked, step, f"decision.{verdict}", actor=actor, from_state=step.status, comment=comment,
            data={"step": step.name, "version": locked.version.number, "evidence_digest": shown,
                  **({"on_behalf_of": principal.username} if principal else {})},
        )  # fmt: skip
        announce(locked, RequestEvent.DECISION, step=step, decision=decision, actor=actor)
        if verdict == Decision.Verdict.APPROVE:
            kind_of(step).approved(locked, step, decision)
            request_advance(locked)
        else:
            request_reject(locked, step, decision)
    request.refresh_from_db()
    return decision


def promotion_request_withdraw(*, request: PromotionRequest, actor, reason: str) -> PromotionRequest:
    """The submitter takes back an open request, saying why: the steps it waits on are cancelled
    (checks still running finish into nothing), the request closes as withdrawn, and the people
    who were asked to decide are told. The version stays as it is; a fixed one is a new version."""
    reason = _clean_comment(reason, what="reason")
    if not reason:
        raise ValidationError({"reason": "Say why you withdraw it, so the reviewers know."})
    refusal = permissions.refusal(actor, permissions.WITHDRAW, request)
    if refusal:
        raise PermissionDenied(refusal)
    with transaction.atomic():
        locked = _lock_request(request.pk)
        if not locked.is_open:
            raise InvalidTransition(
                f"Request #{locked.pk} is {locked.get_status_display().lower()}; only an open request can be withdrawn."
            )
        active = list(locked.steps.filter(status__in=StepState.ACTIVE_STATUSES).order_by("position"))
        for step in active:
            was = step.status
            finish_step(step, Step.CANCELLED)
            audit_step(locked, step, "step.cancelled", actor=actor, from_state=was, to_state=Step.CANCELLED)
        close_request(locked, Status.WITHDRAWN, actor=actor, comment=reason)
        announce(locked, RequestEvent.WITHDRAWN, step=active[0] if active else None, actor=actor)
    request.refresh_from_db()
    return request


def step_claim(*, step: StepState, actor) -> StepState:
    """``actor`` says they are reviewing ``step`` (others see it); only someone who may decide it
    can, and not while another person's claim holds. Claiming again renews one's own claim."""
    refusal = permissions.refusal(actor, permissions.DECIDE, step)
    if refusal:
        raise PermissionDenied(refusal)
    with transaction.atomic():
        locked = _lock_request(step.request_id)
        step = StepState.objects.select_related("claimed_by").get(pk=step.pk)
        _ensure_step_waiting(locked, step)
        holder = step.claim_holder
        if holder is not None and holder.pk != actor.pk:
            raise InvalidTransition(
                f"{holder.username} is reviewing '{step.title}' until "
                f"{timezone.localtime(step.claimed_until):%d %b %Y, %H:%M %Z}."
            )
        step.claimed_by = actor
        step.claimed_until = timezone.now() + timedelta(hours=settings.SIGNOFF_CLAIM_HOURS)
        step.save(update_fields=["claimed_by", "claimed_until"])
        audit_step(
            locked, step, "step.claimed", actor=actor, data={"step": step.name, "until": step.claimed_until.isoformat()}
        )
    return step


def step_release(*, step: StepState, actor) -> StepState:
    """``actor`` gives up their claim on ``step``; only the holder of a claim releases it."""
    with transaction.atomic():
        locked = _lock_request(step.request_id)
        step = StepState.objects.select_related("claimed_by").get(pk=step.pk)
        if step.claim_holder is None or step.claimed_by_id != actor.pk:
            raise InvalidTransition(f"You hold no claim on '{step.title}'.")
        step.claimed_by, step.claimed_until = None, None
        step.save(update_fields=["claimed_by", "claimed_until"])
        audit_step(locked, step, "step.released", actor=actor)
    return step


def _ensure_step_waiting(request: PromotionRequest, step: StepState) -> None:
    """ "Not now" refusals: the step was decided already, or the request has not reached it."""
    if step.status == Step.WAITING and request.is_open:
        return
    if step.status == Step.SKIPPED:
        raise AlreadyDecided(f"'{step.title}' was skipped by a policy; there is nothing to decide.")
    if step.status != Step.PENDING or not request.is_open:
        raise AlreadyDecided(f"'{step.title}' was already decided; reload the request to see its state.")
    active = request.steps.filter(status__in=StepState.ACTIVE_STATUSES).order_by("position").first()
    at = f"; it is at '{active.title}'" if active is not None else ""
    raise InvalidTransition(f"'{step.title}' has not started yet{at}.")


def production_number(model_id: int) -> int | None:
    return (
        ModelVersion.objects.filter(model_id=model_id, stage=ModelVersion.Stage.PRODUCTION)
        .values_list("number", flat=True)
        .first()
    )


def ensure_no_deployment_meanwhile(request: PromotionRequest, production_seen) -> None:
    """Under the model's lock: refuse a deployment when another version was deployed since the
    reviewer looked, or is being deployed now. Parallel deployments thus have one winner."""
    _lock_model(request.model_id)
    deploying = (
        StepState.objects.filter(
            request__model_id=request.model_id, kind=StepState.Kind.DEPLOYMENT, status=Step.RUNNING
        )
        .exclude(request_id=request.pk)
        .select_related("request__version")
        .first()
    )
    if deploying is not None:
        raise InvalidTransition(
            f"Version {deploying.request.version.number} is being deployed meanwhile; "
            "deploy this one once you have checked it should replace that."
        )
    current = production_number(request.model_id)
    if production_seen is not UNCHECKED and current != production_seen:
        raise InvalidTransition(
            f"Version {current} was deployed meanwhile"
            if current is not None
            else "The production version was rolled back meanwhile"
        )


# ---------------------------------------------------------------------------------------------
# Background work (called by tasks; each is idempotent)


def check_run_execute(*, check_run_id: int, final_attempt: bool = True) -> None:
    """Run one automated check and record its outcome; then have the step concluded.

    Called by the job runner, which holds the job's lease: no other worker runs this check at
    the same time. A check that could not run raises ``TransientError`` until the last attempt,
    then is recorded as an error. Recording is a conditional update, so an outcome is written once.
    """
    started = CheckRun.objects.filter(
        pk=check_run_id, status__in=[CheckRun.Status.PENDING, CheckRun.Status.RUNNING]
    ).update(status=CheckRun.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1)
    if not started:
        return
    run = CheckRun.objects.select_related("step__request__version__model", "step__request__dataset").get(
        pk=check_run_id
    )
    given = ChecksKind.check_input(run.step.request)
    fault_point("during_check")
    fault_pause("check", given.model_name)
    status, fields = check_outcome(run, given, final_attempt=final_attempt)
    check_run_record(check_run_id=run.pk, status=status, **fields)


def check_outcome(run, given, *, final_attempt: bool) -> tuple[str, dict]:
    """Run the check ``run`` (a ``CheckRun`` or a ``PreflightCheck``) on ``given``, outside any
    transaction (it reads files and may be slow): its status and the fields to record. A check
    that could not run raises ``TransientError`` (noted in its log) until the last attempt."""
    from jobs.runner import TransientError

    try:
        outcome = get_check(run.check_type)().run(given, run.config)
        status = CheckRun.Status.PASSED if outcome.passed else CheckRun.Status.FAILED
        return status, {"summary": outcome.summary, "result": outcome.details, "log": outcome.log}
    except TransientCheckError as error:
        if not final_attempt:
            type(run).objects.filter(pk=run.pk).update(log=f"Attempt {run.attempts} failed, will retry: {error}")
            raise TransientError(str(error)) from error
        return CheckRun.Status.ERROR, {"summary": f"The check could not run: {error}", "log": str(error)}
    except Exception as error:  # a bug in a check must not leave the request hanging
        return CheckRun.Status.ERROR, {"summary": f"The check crashed: {error!r}", "log": repr(error)}


def check_run_record(*, check_run_id: int, status: str, summary: str, result=None, log: str = "") -> None:
    """Write a check's outcome once; when it was the step's last check to finish, have the step
    concluded (a job: it survives a crash here). The step's row is locked first, so of two checks
    finishing at once the later sees the earlier's outcome, and the step is concluded once."""
    with transaction.atomic():
        its_step = StepState.objects.select_for_update().filter(check_runs=check_run_id)
        step_id = its_step.values_list("pk", flat=True).first()
        unfinished = [CheckRun.Status.PENDING, CheckRun.Status.RUNNING]
        recorded = CheckRun.objects.filter(pk=check_run_id, status__in=unfinished).update(
            status=status, finished_at=timezone.now(), summary=summary, result=result or {}, log=log
        )
        if recorded and not CheckRun.objects.filter(step_id=step_id, status__in=unfinished).exists():
            job_enqueue(JobKind.CONCLUDE_CHECKS, check_run_id)


def check_run_fail(*, check_run_id: int, reason: str) -> None:
    """The job running the check failed for good: record an error so the step can conclude."""
    check_run_record(
        check_run_id=check_run_id, status=CheckRun.Status.ERROR, summary=f"The check could not run: {reason}"
    )


def checks_steps_awaiting_conclusion() -> list[int]:
    """Checks steps still running although every one of their check runs has finished."""
    unfinished = CheckRun.objects.filter(step=OuterRef("pk")).exclude(status__in=CheckRun.FINISHED_STATUSES)
    return list(
        StepState.objects.filter(kind=StepState.Kind.CHECKS, status=Step.RUNNING, check_runs__isnull=False)
        .exclude(Exists(unfinished))
        .values_list("pk", flat=True)
        .distinct()
    )


def checks_step_conclude(*, step_id: int) -> None:
    """Once every check of the step has finished: advance when all passed, else return the request."""
    with transaction.atomic():
        step = StepState.objects.select_related("request").get(pk=step_id)
        request = _lock_request(step.request_id)
        step.refresh_from_db()
        if step.status != Step.RUNNING:
            return
        statuses = list(step.check_runs.values_list("status", flat=True))
        if any(status not in CheckRun.FINISHED_STATUSES for status in statuses):
            return
        passed = all(status == CheckRun.Status.PASSED for status in statuses)
        outcome = Step.PASSED if passed else Step.FAILED
        failing = list(step.check_runs.exclude(status=CheckRun.Status.PASSED).values_list("title", "summary"))
        finish_step(step, outcome)
        audit_step(
            request, step, f"checks.{outcome}", from_state=Step.RUNNING, to_state=outcome,
            data={"failing": [f"{title}: {summary}" for title, summary in failing]} if failing else {},
        )  # fmt: skip
        if passed:
            request_advance(request)
        else:
            close_request(request, Status.CHECKS_FAILED, actor=None)
            announce(request, RequestEvent.CHECKS_FAILED, step=step)


def step_execute(*, step_id: int) -> None:
    """Carry out a promotion or deployment step that is running; does nothing otherwise.

    A deployment first signs the approval and runs the step's deployer, outside any transaction
    (it reaches other systems and may be slow); the stage moves once the deployer succeeded."""
    deployed = None
    step = StepState.objects.get(pk=step_id)
    if step.kind == StepState.Kind.DEPLOYMENT:
        if step.status != Step.RUNNING:
            return
        deployed = _deploy(step)
    with transaction.atomic():
        request = _lock_request(step.request_id)  # a step never changes request
        step = StepState.objects.get(pk=step_id)  # as it is now that its request is locked
        if step.status != Step.RUNNING:
            return
        if step.kind == StepState.Kind.PROMOTION:
            target = step.config["to_stage"]
        elif step.kind == StepState.Kind.DEPLOYMENT:
            target = ModelVersion.Stage.PRODUCTION
        else:
            raise InvalidTransition(f"'{step.title}' is not a promotion or deployment step.")
        if target == ModelVersion.Stage.PRODUCTION:
            _lock_model(request.model_id)  # order: request → model → versions, as in rollbacks
        version = ModelVersion.objects.select_for_update(no_key=True).get(pk=request.version_id)
        if target == ModelVersion.Stage.PRODUCTION:
            # Lock the model's production version too, then archive it.
            for previous in (
                ModelVersion.objects.select_for_update(no_key=True)
                .filter(model_id=version.model_id, stage=ModelVersion.Stage.PRODUCTION)
                .exclude(pk=version.pk)
            ):
                audit_record(
                    actor=None,
                    verb="version.stage_changed",
                    obj=previous,
                    model=request.model,
                    request=request,
                    from_state=previous.stage,
                    to_state=ModelVersion.Stage.ARCHIVED,
                    data={"replaced_by": version.number},
                )
        if version.stage != target:  # a step run again (the request returned to an earlier step) moves nothing
            previous_stage = model_version_set_stage(version=version, stage=target)
            fault_point(f"during_{step.kind}")
            audit_record(
                actor=None,
                verb="version.stage_changed",
                obj=version,
                model=request.model,
                request=request,
                from_state=previous_stage,
                to_state=target,
                data=deployed.audit if deployed else {},
            )
        if deployed:
            step.result = {**step.result, "deployment": deployed.shown}
        finish_step(step, Step.DONE)
        if step.kind == StepState.Kind.DEPLOYMENT:
            announce(request, RequestEvent.DEPLOYED, step=step)
        request_advance(request)


@dataclass(frozen=True)
class _Deployment:
    shown: dict  # on the request page (the step's result)
    audit: dict


def _deploy(step: StepState) -> _Deployment:
    """Sign the approval and run the deployer of a running deployment step (raises what the
    deployer raises: ``TransientError`` to be retried, anything else fails the deployment)."""
    request = PromotionRequest.objects.select_related("model", "version").get(pk=step.request_id)
    attestation = attestations.attestation_for_deployment(step)
    deployer = deployers.deployer_for(step.config.get("deployer"))
    target = deployers.Target(
        model=request.model.name,
        model_id=request.model_id,
        version=request.version.number,
        artifact_sha256=request.version.artifact_sha256,
        request_id=request.pk,
        request_url=settings.SIGNOFF_BASE_URL + request.get_absolute_url(),
        message_id=f"deploy_{step.pk}_{step.round}",
        envelope=attestation.envelope,
    )
    fault_point("before_deployer")
    deployed = deployer.deploy(target)
    fault_point("after_deployer")
    shown = {"deployer": deployer.type, "log": deployed.log[: deployers.LOG_EXCERPT], "attestation": attestation.pk}
    return _Deployment(shown=shown, audit={"deployer": deployer.type, "attestation": attestation.pk, **deployed.detail})


def step_execution_fail(*, step_id: int, reason: str) -> None:
    """A promotion or deployment failed for good (after the worker's retries).

    A failed promotion closes the request as failed. A failed deployment ends somewhere the IT
    engineer can act: the version stays approved for production, the step waits for them again
    (a new round of decisions) showing the error, and they deploy again or hand the request back.
    """
    with transaction.atomic():
        step = StepState.objects.get(pk=step_id)
        request = _lock_request(step.request_id)
        step.refresh_from_db()
        if step.status != Step.RUNNING:
            return
        if step.kind != StepState.Kind.DEPLOYMENT:
            finish_step(step, Step.FAILED)
            close_request(request, Status.FAILED, actor=None, comment=f"'{step.title}' failed: {reason}")
            return
        step.status, step.round = Step.WAITING, step.round + 1
        reason = reason.removeprefix(f"{deployers.DeployError.__name__}: ")
        step.note = f"The deployment failed: {reason.rstrip('.')}."
        deadline_restart(step, timezone.now())
        step.save(update_fields=["status", "round", "note", "due_at", "remind_at", "reminded_at", "escalated_at"])
        request.status = Status.AWAITING_REVIEW
        request.save(update_fields=["status", "updated_at"])
        audit_step(
            request, step, "deployment.failed", from_state=Step.RUNNING, to_state=Step.WAITING, comment=reason,
            data={"step": step.name, "version": request.version.number, "round": step.round},
        )  # fmt: skip
        announce(request, RequestEvent.REVIEW_REQUESTED, step=step)


# ---------------------------------------------------------------------------------------------
# Rollback

MAX_REASON = 2000


def rollback_targets(*, model) -> list[ModelVersion]:
    """Earlier production versions of ``model`` that a rollback may restore, newest first:
    versions deployed by a request and later replaced (not those rolled back themselves)."""
    return list(
        ModelVersion.objects.filter(
            model=model, stage=ModelVersion.Stage.ARCHIVED, promotion_requests__status=Status.COMPLETED
        )
        .distinct()
        .order_by("-stage_changed_at", "-number")
    )


def model_rollback(
    *, model, actor, comment: str, target: int | None = None, production_seen: int | None = None
) -> ModelVersion:
    """Take the production version out of production and restore an earlier one.

    ``target`` is the number of the version to restore (default: the one deployed before the
    current one); ``production_seen`` the production version the IT engineer saw (default:
    the current one). The version taken out is marked rolled back with the reason, its request
    reads "Rolled back", and it returns to production only through a new request. The team
    is e-mailed. Of parallel rollbacks one succeeds; the others are refused with the reason.
    """
    refusal = permissions.refusal(actor, permissions.ROLLBACK, model)
    if refusal:
        raise PermissionDenied(refusal)
    comment = _clean_comment(comment)
    if not comment:
        raise ValidationError({"comment": "Say why the model is rolled back."})
    if len(comment) > MAX_REASON:
        raise ValidationError({"comment": f"Keep the reason under {MAX_REASON} characters."})
    if production_seen is None:
        production_seen = production_number(model.pk)
    with transaction.atomic():
        _lock_model(model.pk)
        current = (
            ModelVersion.objects.select_for_update(no_key=True)
            .filter(model=model, stage=ModelVersion.Stage.PRODUCTION)
            .first()
        )
        if current is None or current.number != production_seen:
            raise InvalidTransition(_production_changed(model, production_seen, current))
        candidates = rollback_targets(model=model)
        if target is None:
            restored = candidates[0] if candidates else None
            if restored is None:
                raise InvalidTransition(f"{model} has no earlier production version to restore.")
        else:
            restored = next((v for v in candidates if v.number == target), None)
            if restored is None:
                choices = ", ".join(f"v{v.number}" for v in candidates) or "none"
                raise ValidationError(
                    {"target": f"Version {target} is not an earlier production version of {model} (choose: {choices})."}
                )
        restored = ModelVersion.objects.select_for_update(no_key=True).get(pk=restored.pk)
        deployed_by = current.promotion_requests.filter(status=Status.COMPLETED).order_by("-submitted_at").first()
        model_version_set_stage(version=current, stage=ModelVersion.Stage.ROLLED_BACK, note=comment)
        model_version_set_stage(version=restored, stage=ModelVersion.Stage.PRODUCTION, note=comment)
        if deployed_by is not None:
            PromotionRequest.objects.filter(pk=deployed_by.pk).update(status=Status.ROLLED_BACK)
        for version, before, after in (
            (current, ModelVersion.Stage.PRODUCTION, ModelVersion.Stage.ROLLED_BACK),
            (restored, ModelVersion.Stage.ARCHIVED, ModelVersion.Stage.PRODUCTION),
        ):
            audit_record(
                actor=actor,
                verb="version.rolled_back",
                obj=version,
                model=model,
                request=deployed_by,
                from_state=before,
                to_state=after,
                comment=comment,
                data={"restored": restored.number, "replaced": current.number},
            )
        if deployed_by is not None:
            announce(deployed_by, RequestEvent.ROLLED_BACK, actor=actor)
    return restored


def _production_changed(model, seen: int | None, current: ModelVersion | None) -> str:
    """The true reason a rollback found production other than the IT engineer saw."""
    last = (
        AuditEvent.objects.filter(model=model, verb="version.rolled_back", to_state=ModelVersion.Stage.PRODUCTION)
        .select_related("actor")
        .order_by("-pk")
        .first()
    )
    if current is None:
        return f"{model} has no production version to roll back."
    if seen is None:
        return f"Version {current.number} was deployed meanwhile; review before rolling it back."
    if last is not None and last.data.get("replaced") == seen:
        who = last.actor.username if last.actor else "someone"
        return f"Version {seen} was already rolled back by {who}; version {current.number} is in production."
    return f"Version {seen} is no longer in production; version {current.number} is. Reload and decide again."
