"""Every change to a promotion request goes through one of these functions.

Each one locks the request row, checks the transition is allowed, writes the change and its
audit event in one transaction, and schedules side effects (checks, promotion, e-mail) with
``transaction.on_commit`` so nothing runs for a change that was rolled back.

Two kinds of refusal are kept apart: ``PermissionDenied`` (this user may not do this) and
``InvalidTransition`` (nobody may do this now, e.g. the step was already decided).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from approvals import permissions
from approvals.audit import audit_record
from approvals.checks import TransientCheckError, get_check
from approvals.definitions import WorkflowDefinition, definition_for_model
from approvals.models import CheckRun, Decision, Notification, PromotionRequest, StepState
from registry.models import ModelVersion
from registry.services import model_version_mark_submitted, model_version_set_stage

Status = PromotionRequest.Status
Step = StepState.Status


class InvalidTransition(Exception):
    """The action is not possible in the request's current state (HTTP 409)."""


class AlreadyDecided(InvalidTransition):
    """Someone else decided this step first."""


# ---------------------------------------------------------------------------------------------
# Submission


def promotion_request_submit(*, version: ModelVersion, actor) -> PromotionRequest:
    """Submit ``version`` for approval: freeze it, create the request and start its first step."""
    if not permissions.user_can_submit(actor, version):
        raise PermissionDenied("Only data scientists with access to this model may submit its versions.")
    definition = definition_for_model(version.model)
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
        if version.stage != ModelVersion.Stage.DEVELOPMENT:
            raise InvalidTransition(
                f"{version} is in {version.get_stage_display()}; only development versions can be submitted."
            )
        previous = version.promotion_requests.order_by("-submitted_at").first()
        if previous is not None and previous.is_open:
            raise InvalidTransition(f"{version} already has an open request (#{previous.pk}).")
        if previous is not None and previous.status != Status.FAILED:
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
            submitted_by=actor,
        )
        _create_steps(request, definition)
        audit_record(
            actor=actor,
            verb="request.submitted",
            obj=request,
            model=request.model,
            request=request,
            to_state=request.status,
            data={"version": version.number, "workflow": definition.name},
        )
        _start_step(request, request.steps.order_by("position").first())
    return request


def _create_steps(request: PromotionRequest, definition: WorkflowDefinition) -> None:
    groups = {group.name: group for group in Group.objects.all()}
    for position, step_def in enumerate(definition.steps):
        step = StepState.objects.create(
            request=request,
            position=position,
            name=step_def.name,
            title=step_def.title,
            kind=step_def.type,
            config=step_def.as_config(),
            required_approvals=step_def.required_approvals,
        )
        if step_def.is_human:
            missing = [name for name in step_def.approvers if name not in groups]
            if missing:
                raise ValidationError(f"The workflow names roles that do not exist: {', '.join(missing)}.")
            step.approver_groups.set([groups[name] for name in step_def.approvers])
            if step_def.users:
                step.approver_users.set(get_user_model().objects.filter(username__in=step_def.users))


# ---------------------------------------------------------------------------------------------
# Moving between steps (always called inside a transaction holding the request lock)


def _start_step(request: PromotionRequest, step: StepState | None) -> None:
    """Make ``step`` current, or complete the request when there is none."""
    from approvals import tasks  # tasks import services; import here to keep the cycle one-way

    now = timezone.now()
    if step is None:
        _close(request, Status.COMPLETED, actor=None)
        return
    request.current_step = step
    step.started_at = now
    if step.kind == StepState.Kind.CHECKS:
        step.status = Step.RUNNING
        request.status = Status.IN_PROGRESS
        step.save(update_fields=["status", "started_at"])
        for position, check in enumerate(step.config["checks"]):
            config = {key: value for key, value in check.items() if key != "type"}
            run = CheckRun.objects.create(
                step=step,
                position=position,
                check_type=check["type"],
                config=config,
                title=get_check(check["type"]).describe(config),
            )
            _enqueue_after_commit(tasks.run_check, run.pk)
    elif step.kind == StepState.Kind.PROMOTION:
        step.status = Step.RUNNING
        request.status = Status.IN_PROGRESS
        step.save(update_fields=["status", "started_at"])
        _enqueue_after_commit(tasks.execute_step, step.pk)
    else:
        step.status = Step.WAITING
        request.status = Status.AWAITING_REVIEW
        step.save(update_fields=["status", "started_at"])
        _notify(request, Notification.Event.REVIEW_REQUESTED, step=step)
    request.save(update_fields=["current_step", "status", "updated_at"])
    audit_record(
        actor=None,
        verb="step.started",
        obj=step,
        model=request.model,
        request=request,
        to_state=step.status,
        data={"step": step.name},
    )


def _advance(request: PromotionRequest, finished: StepState) -> None:
    following = request.steps.filter(position__gt=finished.position).order_by("position").first()
    _start_step(request, following)


def _close(request: PromotionRequest, status: str, *, actor, comment: str = "") -> None:
    previous = request.status
    request.status = status
    request.closed_at = timezone.now()
    request.save(update_fields=["status", "closed_at", "updated_at"])
    audit_record(
        actor=actor,
        verb=f"request.{status}",
        obj=request,
        model=request.model,
        request=request,
        from_state=previous,
        to_state=status,
        comment=comment,
    )


def _finish_step(step: StepState, status: str) -> None:
    step.status = status
    step.finished_at = timezone.now()
    step.save(update_fields=["status", "finished_at"])


def _notify(request: PromotionRequest, event: str, *, step=None, decision=None, actor=None) -> None:
    """Record an e-mail to send and hand it to the worker once the transaction commits."""
    from approvals import tasks

    notification = Notification.objects.create(
        event=event,
        request=request,
        step=step,
        decision=decision,
        actor=actor if actor is not None and actor.is_authenticated else None,
    )
    _enqueue_after_commit(tasks.send_notification, notification.pk)


def _enqueue_after_commit(task, object_id: int) -> None:
    """Hand ``object_id`` to ``task`` once the transaction commits.

    ``robust`` because the change is already committed when the broker is asked: a broker
    that is down must not turn a recorded submission into an error page. The work is a row
    in a pending state, so ``manage.py requeue_stalled`` hands it to the worker again.
    """
    transaction.on_commit(lambda: task.delay(object_id), robust=True)


def _lock_request(request_id: int) -> PromotionRequest:
    return (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("version", "model", "current_step")
        .get(pk=request_id)
    )


# ---------------------------------------------------------------------------------------------
# Human decisions


def step_decide(
    *, request: PromotionRequest, actor, verdict: str, comment: str = "", step: StepState | None = None
) -> Decision:
    """Record ``actor``'s decision on the step of ``request`` they are looking at.

    ``step`` is the step the reviewer saw (the form or API call names it), by default
    ``request.current_step`` as loaded; if another reviewer decided it in the meantime, this
    raises ``AlreadyDecided`` and changes nothing.
    """
    comment = (comment or "").strip()
    if verdict not in Decision.Verdict.values:
        raise ValidationError({"decision": f"Choose one of {', '.join(Decision.Verdict.values)}."})
    if verdict != Decision.Verdict.APPROVE and not comment:
        raise ValidationError({"comment": "Say why, so the author knows what to fix."})
    seen_step = step or request.current_step
    if seen_step is not None and seen_step.request_id != request.pk:
        raise ValidationError({"step": "That step belongs to another request."})
    if seen_step is not None and seen_step.status != Step.WAITING and seen_step.pk != request.current_step_id:
        raise AlreadyDecided(f"'{seen_step.title}' was already decided; reload the request to see its state.")
    if seen_step is None or not request.is_open:
        raise InvalidTransition(
            f"Request #{request.pk} is {request.get_status_display().lower()}; there is nothing to decide."
        )
    refusal = permissions.decide_refusal(actor, request, seen_step)
    if refusal:
        raise PermissionDenied(refusal)

    with transaction.atomic():
        locked = _lock_request(request.pk)
        step = StepState.objects.get(pk=seen_step.pk)
        if locked.current_step_id != step.pk or step.status != Step.WAITING:
            raise AlreadyDecided(f"'{step.title}' was already decided; reload the request to see its state.")
        if step.decisions.filter(actor=actor).exists():
            raise AlreadyDecided(f"You already decided '{step.title}'.")
        decision = Decision.objects.create(request=locked, step=step, actor=actor, verdict=verdict, comment=comment)
        audit_record(
            actor=actor,
            verb=f"decision.{verdict}",
            obj=step,
            model=locked.model,
            request=locked,
            from_state=step.status,
            comment=comment,
            data={"step": step.name, "version": locked.version.number},
        )
        _notify(locked, Notification.Event.DECISION, step=step, decision=decision, actor=actor)
        if verdict == Decision.Verdict.APPROVE:
            approvals = step.decisions.filter(verdict=Decision.Verdict.APPROVE).count()
            if approvals >= step.required_approvals:
                _approve_step(locked, step)
        else:
            _finish_step(step, Step.REJECTED if verdict == Decision.Verdict.REJECT else Step.CHANGES_REQUESTED)
            _close(
                locked,
                Status.REJECTED if verdict == Decision.Verdict.REJECT else Status.CHANGES_REQUESTED,
                actor=actor,
                comment=comment,
            )
    request.refresh_from_db()
    return decision


def _approve_step(request: PromotionRequest, step: StepState) -> None:
    from approvals import tasks

    if step.kind == StepState.Kind.DEPLOYMENT:
        # The approval is the go-ahead; the worker performs the deployment.
        step.status = Step.RUNNING
        step.save(update_fields=["status"])
        request.status = Status.IN_PROGRESS
        request.save(update_fields=["status", "updated_at"])
        _enqueue_after_commit(tasks.execute_step, step.pk)
        return
    _finish_step(step, Step.APPROVED)
    _advance(request, step)


# ---------------------------------------------------------------------------------------------
# Background work (called by tasks; each is idempotent)


def check_run_execute(*, check_run_id: int, final_attempt: bool = True) -> None:
    """Run one automated check and record its outcome; then see whether the step is finished.

    Claiming the run is a conditional update, so two deliveries of the same task never record
    two outcomes. A run left ``running`` by a worker that died is claimed again.
    """
    claimed = CheckRun.objects.filter(
        pk=check_run_id, status__in=[CheckRun.Status.PENDING, CheckRun.Status.RUNNING]
    ).update(status=CheckRun.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return
    run = CheckRun.objects.select_related("step__request__version__model").get(pk=check_run_id)
    CheckRun.objects.filter(pk=run.pk).update(attempts=run.attempts + 1)
    version = run.step.request.version
    # The check reads files and may be slow: it runs outside any transaction.
    try:
        outcome = get_check(run.check_type)().run(version, run.config)
        status = CheckRun.Status.PASSED if outcome.passed else CheckRun.Status.FAILED
        fields = {"summary": outcome.summary, "result": outcome.details, "log": outcome.log}
    except TransientCheckError as error:
        if not final_attempt:
            CheckRun.objects.filter(pk=run.pk).update(
                status=CheckRun.Status.PENDING, log=f"Attempt failed, will retry: {error}"
            )
            raise
        status, fields = CheckRun.Status.ERROR, {"summary": f"The check could not run: {error}", "log": str(error)}
    except Exception as error:  # a bug in a check must not leave the request hanging
        status, fields = CheckRun.Status.ERROR, {"summary": f"The check crashed: {error!r}", "log": repr(error)}
    recorded = CheckRun.objects.filter(pk=run.pk, status=CheckRun.Status.RUNNING).update(
        status=status, finished_at=timezone.now(), **fields
    )
    if recorded:
        checks_step_conclude(step_id=run.step_id)


def checks_step_conclude(*, step_id: int) -> None:
    """Once every check of the step has finished: advance when all passed, else return the request."""
    with transaction.atomic():
        step = StepState.objects.select_related("request").get(pk=step_id)
        request = _lock_request(step.request_id)
        step.refresh_from_db()
        if step.status != Step.RUNNING or request.current_step_id != step.pk:
            return
        statuses = list(step.check_runs.values_list("status", flat=True))
        if any(status not in CheckRun.FINISHED_STATUSES for status in statuses):
            return
        passed = all(status == CheckRun.Status.PASSED for status in statuses)
        outcome = Step.PASSED if passed else Step.FAILED
        failing = list(step.check_runs.exclude(status=CheckRun.Status.PASSED).values_list("title", "summary"))
        _finish_step(step, outcome)
        audit_record(
            actor=None,
            verb=f"checks.{outcome}",
            obj=step,
            model=request.model,
            request=request,
            from_state=Step.RUNNING,
            to_state=outcome,
            data={"failing": [f"{title}: {summary}" for title, summary in failing]} if failing else {},
        )
        if passed:
            _advance(request, step)
        else:
            _close(request, Status.CHECKS_FAILED, actor=None)
            _notify(request, Notification.Event.CHECKS_FAILED, step=step)


def step_execute(*, step_id: int) -> None:
    """Carry out a promotion or deployment step that is running; does nothing otherwise."""
    with transaction.atomic():
        step = StepState.objects.get(pk=step_id)
        request = _lock_request(step.request_id)
        step.refresh_from_db()
        if step.status != Step.RUNNING or request.current_step_id != step.pk:
            return
        version = ModelVersion.objects.select_for_update().get(pk=request.version_id)
        if step.kind == StepState.Kind.PROMOTION:
            target = step.config["to_stage"]
        elif step.kind == StepState.Kind.DEPLOYMENT:
            target = ModelVersion.Stage.PRODUCTION
        else:
            raise InvalidTransition(f"'{step.title}' is not a promotion or deployment step.")
        if target == ModelVersion.Stage.PRODUCTION:
            # Lock the model's production version too, then archive it.
            for previous in (
                ModelVersion.objects.select_for_update()
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
        previous_stage = model_version_set_stage(version=version, stage=target)
        audit_record(
            actor=None,
            verb="version.stage_changed",
            obj=version,
            model=request.model,
            request=request,
            from_state=previous_stage,
            to_state=target,
        )
        _finish_step(step, Step.DONE)
        if step.kind == StepState.Kind.DEPLOYMENT:
            _notify(request, Notification.Event.DEPLOYED, step=step)
        _advance(request, step)


def request_fail(*, request_id: int, reason: str) -> None:
    """Close a request whose background step failed for good (after the worker's retries)."""
    with transaction.atomic():
        request = _lock_request(request_id)
        if not request.is_open:
            return
        if request.current_step is not None:
            _finish_step(request.current_step, Step.FAILED)
        _close(request, Status.FAILED, actor=None, comment=reason)


# ---------------------------------------------------------------------------------------------
# Rollback


def model_rollback(*, model, actor, comment: str) -> ModelVersion:
    """Restore the model's previous production version; the current one is archived.

    The previous production version is the most recently archived version that was deployed.
    """
    comment = (comment or "").strip()
    if not permissions.user_can_rollback(actor, model):
        raise PermissionDenied("Only IT engineers with access to this model may roll it back.")
    if not comment:
        raise ValidationError({"comment": "Say why the model is rolled back."})
    with transaction.atomic():
        versions = ModelVersion.objects.select_for_update().filter(model=model)
        current = versions.filter(stage=ModelVersion.Stage.PRODUCTION).first()
        previous = (
            versions.filter(stage=ModelVersion.Stage.ARCHIVED, promotion_requests__status=Status.COMPLETED)
            .exclude(pk=getattr(current, "pk", None))
            .order_by("-stage_changed_at", "-number")
            .first()
        )
        if current is None:
            raise InvalidTransition(f"{model} has no production version to roll back.")
        if previous is None:
            raise InvalidTransition(f"{model} has no earlier production version to restore.")
        model_version_set_stage(version=previous, stage=ModelVersion.Stage.PRODUCTION)
        for version, before, after in (
            (current, ModelVersion.Stage.PRODUCTION, ModelVersion.Stage.ARCHIVED),
            (previous, ModelVersion.Stage.ARCHIVED, ModelVersion.Stage.PRODUCTION),
        ):
            audit_record(
                actor=actor,
                verb="version.rolled_back",
                obj=version,
                model=model,
                from_state=before,
                to_state=after,
                comment=comment,
                data={"restored": previous.number, "replaced": current.number},
            )
    return previous
