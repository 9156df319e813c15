"""The workflow engine: step kinds as classes, and one routine that moves a request on.

Each kind of step (wagtail's ``Task`` subclasses) knows how to start (and may finish itself at
once), take a decision, finish, and name the people eligible for it. ``request_advance`` starts
the steps that are due (a parallel group starts together), re-enters when a step finished
itself (a policy), and closes the request when nothing is left. Adding a kind is one class and
an entry in ``KINDS``.

Everything here runs inside the caller's transaction, which holds the request's row lock
(``services._lock_request``); side effects are jobs enqueued after commit, and domain signals
(``approvals.signals``) whose receivers (e-mail) write their own rows in the same transaction.
"""

from abc import ABC, abstractmethod
from datetime import timedelta

from django.contrib.auth.models import Group
from django.db.models import Q
from django.utils import timezone

from approvals import deadlines, policy
from approvals.definitions import MAX_STEPS
from approvals.models import CheckRun, Decision, JobKind, PromotionRequest, StepState
from approvals.signals import RequestEvent, announce
from audit.services import audit_record
from evidence.checks import get_check
from evidence.checks.inputs import CheckInput, check_input
from jobs.runner import job_enqueue, jobs_enqueue_new
from registry.models import ModelVersion, TeamRole
from registry.roles import holders
from registry.services import model_version_set_stage

Status = PromotionRequest.Status
Step = StepState.Status
FINISHED = (Step.PASSED, Step.APPROVED, Step.DONE, Step.SKIPPED, Step.NOT_MET)


# ---------------------------------------------------------------------------------------------
# Small writes every kind uses


def finish_step(step: StepState, status: str) -> None:
    step.status = status
    step.finished_at = timezone.now()
    step.save(update_fields=["status", "finished_at", "result"])


def close_request(request: PromotionRequest, status: str, *, actor, comment: str = "") -> None:
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
    version = request.version
    if version.stage == ModelVersion.Stage.QA and status != PromotionRequest.Status.COMPLETED:
        # Nobody tests it any more: a version whose request ended short of production leaves QA.
        note = f"Request #{request.pk} ended in QA: {request.get_status_display().lower()}."
        model_version_set_stage(version=version, stage=ModelVersion.Stage.DEVELOPMENT, note=note)
        audit_record(
            actor=actor, verb="version.stage_changed", obj=version, model=request.model, request=request,
            from_state=ModelVersion.Stage.QA, to_state=ModelVersion.Stage.DEVELOPMENT, comment=note,
        )  # fmt: skip


def audit_step(request: PromotionRequest, step: StepState, verb: str, *, actor=None, **fields) -> None:
    """An audit event about ``step`` of ``request`` (the system's unless ``actor`` is given)."""
    fields.setdefault("data", {"step": step.name})
    audit_record(actor=actor, verb=verb, obj=step, model=request.model, request=request, **fields)


def _started(request: PromotionRequest, step: StepState, status: str) -> None:
    step.status = status
    step.started_at = timezone.now()
    if status == Step.WAITING:
        deadline_restart(step, step.started_at)
    step.save(
        update_fields=[
            "status",
            "started_at",
            "required_approvals",
            "due_at",
            "remind_at",
            "reminded_at",
            "escalated_at",
        ]
    )
    audit_step(request, step, "step.started", to_state=step.status)


def _assign(request: PromotionRequest, step: StepState) -> None:
    """A step whose definition names ``assignees`` starts held by the first of them who may
    decide it (a claim, as "I'm reviewing this" would be: shown to everyone, lapsing by itself)."""
    names = step.config.get("assignees") or []
    if not names:
        return
    from django.conf import settings

    from approvals import permissions

    may = {person.username: person for person in permissions.users_who_can(permissions.DECIDE, step, as_started=True)}
    holder = next((may[name] for name in names if name in may), None)
    if holder is None:
        return
    step.claimed_by = holder
    step.claimed_until = step.started_at + timedelta(hours=settings.SIGNOFF_CLAIM_HOURS)
    step.save(update_fields=["claimed_by", "claimed_until"])
    audit_step(request, step, "step.assigned", data={"step": step.name, "assignee": holder.username})


def deadline_restart(step: StepState, start) -> None:
    """A step that starts waiting (again) is due by its definition's ``due``, counted from ``start``."""
    step.due_at, step.remind_at = deadlines.schedule(step.config, start)
    step.reminded_at = step.escalated_at = None


# ---------------------------------------------------------------------------------------------
# Step kinds


class StepKind(ABC):
    """What one kind of step does: every kind starts its steps; people's kinds also take approvals."""

    kind = ""
    human = False
    panel_template = "requests/steps/_automated.html"

    @abstractmethod
    def start(self, request: PromotionRequest, step: StepState) -> None:
        """Start ``step``: it waits, runs, or finishes itself at once (a policy)."""

    def eligible(self, step: StepState) -> Q:
        """A filter on users: who could decide ``step`` by role or name (nobody, for an automated
        step). ``approvals.permissions`` adds everything else a decision needs."""
        return Q(pk__in=[])

    def approved(self, request: PromotionRequest, step: StepState, decision: Decision) -> None:
        """An approving decision was recorded on ``step``. Automated kinds never get here: the
        permission policy refuses every decision on them first."""
        raise TypeError(f"A {self.kind} step is not decided by people.")


class ChecksKind(StepKind):
    """Automated checks: one ``CheckRun`` per check, each run by the worker; concluded by
    ``services.checks_step_conclude`` once all have finished."""

    kind = StepState.Kind.CHECKS
    panel_template = "requests/steps/_checks.html"

    def start(self, request, step):
        runs = []
        for position, check in enumerate(step.config["checks"]):
            config = {key: value for key, value in check.items() if key != "type"}
            title = get_check(check["type"]).describe(config)
            runs.append(CheckRun(step=step, position=position, check_type=check["type"], config=config, title=title))
        runs = CheckRun.objects.bulk_create(runs)
        _started(request, step, Step.RUNNING)
        jobs_enqueue_new(JobKind.RUN_CHECK, [run.pk for run in runs], share=request.model.team_id)

    @staticmethod
    def check_input(request) -> CheckInput:
        """What each check of the request is given: the version, production, the dataset fixed at
        submission and the authors of the work (whose datasets are no evidence)."""
        authors = request.authors.values_list("user_id", flat=True)
        return check_input(request.version, dataset=request.dataset, author_ids=authors)


class PromotionKind(StepKind):
    """Moves the version to a stage; carried out by the worker (``services.step_execute``)."""

    kind = StepState.Kind.PROMOTION

    def start(self, request, step):
        _started(request, step, Step.RUNNING)
        job_enqueue(JobKind.EXECUTE_STEP, step.pk)


class ApprovalKind(StepKind):
    """People decide: roles and named users, N approvals (per-role minimums, or everyone)."""

    kind = StepState.Kind.APPROVAL
    human = True
    panel_template = "requests/steps/_human.html"

    def eligible(self, step):
        return holders(step.approver_groups.all(), step.request.model.team_id) | Q(pk__in=step.approver_users.all())

    def start(self, request, step):
        if step.config.get("quorum") == "all":
            from approvals import permissions

            # Everyone who may decide it now: fixed at the start, so nobody can shrink it later.
            step.required_approvals = max(1, len(permissions.users_who_can(permissions.DECIDE, step, as_started=True)))
        _started(request, step, Step.WAITING)
        _assign(request, step)
        announce(request, RequestEvent.REVIEW_REQUESTED, step=step)

    def approved(self, request, step, decision):
        if quorum_met(step):
            finish_step(step, Step.APPROVED)


class DeploymentKind(ApprovalKind):
    """An IT engineer's go-ahead, then the worker deploys (``services.step_execute``). Under an
    emergency release the go-ahead was given when it was released: the step deploys at once."""

    kind = StepState.Kind.DEPLOYMENT

    def start(self, request, step):
        if not step.result.get("emergency"):
            super().start(request, step)
            return
        _started(request, step, Step.RUNNING)
        job_enqueue(JobKind.EXECUTE_STEP, step.pk, again=True)

    def approved(self, request, step, decision):
        if quorum_met(step):
            deploy_now(step)


def deploy_now(step: StepState) -> None:
    """The deployment step runs: the worker carries it out."""
    step.status = Step.RUNNING
    step.save(update_fields=["status"])
    job_enqueue(JobKind.EXECUTE_STEP, step.pk, again=True)


class RetrospectiveKind(ApprovalKind):
    """The review that follows an emergency release (``approvals.emergency``), added to the
    request when it is released: people of ``break_glass.retrospective_by`` who took no part in
    the release approve it, or reject it (the request closes as rejected; the version stays
    flagged)."""

    kind = StepState.Kind.RETROSPECTIVE


class PolicyKind(StepKind):
    """Decides itself on start (seed 001): when its condition holds over the recorded evidence,
    the step it names is skipped as "approved by policy"; otherwise that step runs. The verdict,
    the values read and the evidence digest are recorded on the policy step and audited; no
    ``Decision`` row is written (those are people's)."""

    kind = StepState.Kind.POLICY
    panel_template = "requests/steps/_policy.html"

    def start(self, request, step):
        from approvals import selectors
        from evidence import comparison

        _started(request, step, Step.RUNNING)
        met, read = policy.evaluate(step.config["when"], policy_facts(request))
        target = request.steps.get(name=step.config["target"])
        evidence = selectors.request_evidence(request=request)
        step.result = {
            "met": met,
            "read": read,
            "condition": policy.describe(step.config["when"]),
            "target": target.name,
            "evidence_digest": comparison.digest(evidence),
        }
        finish_step(step, Step.APPROVED if met else Step.NOT_MET)
        verb = "policy.met" if met else "policy.not_met"
        audit_step(
            request, step, verb, from_state=Step.RUNNING, to_state=step.status, data={"step": step.name, **step.result}
        )
        if met:
            target.result = {"by_policy": step.name, "policy_title": step.title, "read": read}
            finish_step(target, Step.SKIPPED)
            audit_step(
                request, target, "step.skipped", from_state=Step.PENDING, to_state=Step.SKIPPED,
                comment=f"Approved by policy {step.title}: {step.result['condition']}.",
                data={"step": target.name, "policy": step.name},
            )  # fmt: skip


KINDS: dict[str, StepKind] = {
    kind.kind: kind
    for kind in (ChecksKind(), PromotionKind(), ApprovalKind(), DeploymentKind(), PolicyKind(), RetrospectiveKind())
}


def kind_of(step: StepState) -> StepKind:
    return KINDS[step.kind]


# ---------------------------------------------------------------------------------------------
# Approvals needed


def quorum_met(step: StepState) -> bool:
    """Whether the approvals of the step's current round suffice: ``required_approvals`` people,
    and for each role of ``require`` its minimum, each person counted for one role only."""
    approvers = list(
        Decision.objects.filter(step=step, round=step.round, verdict=Decision.Verdict.APPROVE).values_list(
            "actor_id", flat=True
        )
    )
    if len(approvers) < step.required_approvals:
        return False
    require = step.config.get("require") or {}
    if not require:
        return True
    held = {}
    for user_id, role in Group.objects.filter(user__in=approvers, name__in=require).values_list("user", "name"):
        held.setdefault(user_id, set()).add(role)
    within = TeamRole.objects.filter(user__in=approvers, team_id=step.request.model.team_id, role__name__in=require)
    for user_id, role in within.values_list("user_id", "role__name"):  # roles held within the model's team
        held.setdefault(user_id, set()).add(role)
    slots = [role for role, needed in require.items() for _ in range(needed)]
    return _matching(slots, held) == len(slots)


def _matching(slots: list[str], held: dict[int, set[str]]) -> int:
    """How many role slots distinct people can fill (bipartite matching, augmenting paths)."""
    taken: dict[int, int] = {}  # person → slot

    def place(slot: int, seen: set[int]) -> bool:
        for person, roles in held.items():
            if slots[slot] in roles and person not in seen:
                seen.add(person)
                if person not in taken or place(taken[person], seen):
                    taken[person] = slot
                    return True
        return False

    return sum(place(slot, set()) for slot in range(len(slots)))


# ---------------------------------------------------------------------------------------------
# What a policy reads


def policy_facts(request: PromotionRequest) -> policy.Facts:
    from evidence.models import Measurement

    version = request.version
    measured = {}
    if request.dataset_id is not None:
        found = Measurement.objects.filter(version=version, dataset_id=request.dataset_id).first()
        measured = found.metrics if found else {}
    checks = {}
    for check_type, status in CheckRun.objects.filter(step__request=request).values_list("check_type", "status"):
        checks[check_type] = status if checks.get(check_type, status) == status else CheckRun.Status.FAILED
    return policy.Facts(
        measured=measured,
        reported=version.metrics or {},
        checks=checks,
        model_card=version.model_card or {},
        dataset_rows=request.dataset.row_count if request.dataset_id else None,
    )


# ---------------------------------------------------------------------------------------------
# Moving on


def _sync(request: PromotionRequest, active: list[StepState]) -> None:
    """The request's status and first active step follow its active steps."""
    status = Status.AWAITING_REVIEW if any(s.status == Step.WAITING for s in active) else Status.IN_PROGRESS
    if request.status != status or request.current_step_id != active[0].pk:
        request.status, request.current_step = status, active[0]
        request.save(update_fields=["status", "current_step", "updated_at"])


def request_advance(request: PromotionRequest) -> None:
    """Start what is due, until some step waits or runs, or close the request as completed."""
    # Each round starts at least one step, or returns: a request settles within its number of steps.
    for _ in range(MAX_STEPS + 2):
        if not request.is_open:
            return
        steps = list(request.steps.order_by("position"))
        active = [s for s in steps if s.is_active]
        if active:
            _sync(request, active)
            return
        pending = [s for s in steps if s.status == Step.PENDING]
        if not pending:
            close_request(request, Status.COMPLETED, actor=None)
            return
        first = pending[0]
        due = [s for s in pending if s.group == first.group] if first.group else [first]
        for step in due:
            kind_of(step).start(request, step)
    raise RuntimeError(f"Request #{request.pk} did not settle; a step kind finishes without moving on.")


def request_reject(request: PromotionRequest, step: StepState, decision: Decision) -> None:
    """A decision that does not approve: the step's ``on_reject`` says where the request goes."""
    verdict = decision.verdict
    finish_step(step, Step.REJECTED if verdict == Decision.Verdict.REJECT else Step.CHANGES_REQUESTED)
    # Parallel steps still waiting stop: the group cannot pass any more.
    for other in request.steps.filter(status__in=StepState.ACTIVE_STATUSES).exclude(pk=step.pk):
        finish_step(other, Step.CANCELLED)
    on_reject = step.config.get("on_reject") or "return_to_author"
    if on_reject == "return_to_step":
        _return_to(request, step, decision)
        return
    if on_reject == "reject" or verdict == Decision.Verdict.REJECT:
        close_request(request, Status.REJECTED, actor=decision.actor, comment=decision.comment)
    else:
        close_request(request, Status.CHANGES_REQUESTED, actor=decision.actor, comment=decision.comment)


def _return_to(request: PromotionRequest, step: StepState, decision: Decision) -> None:
    """``on_reject: {return_to_step: NAME}``: NAME and every step after it start again, people's
    steps in a new round (earlier decisions stay recorded, and count no more)."""
    target = request.steps.get(name=step.config["return_to"])
    again = request.steps.filter(position__gte=target.position).exclude(status=Step.PENDING)
    for later in again:
        later.status, later.started_at, later.finished_at, later.result = Step.PENDING, None, None, {}
        if later.is_human:
            later.round += 1
            later.note = f"Returned by {decision.actor.username} from '{step.title}': {decision.comment}"
        later.save(update_fields=["status", "started_at", "finished_at", "result", "round", "note"])
    audit_record(
        actor=decision.actor,
        verb="request.returned_to_step",
        obj=request,
        model=request.model,
        request=request,
        from_state=step.name,
        to_state=target.name,
        comment=decision.comment,
        data={"from": step.name, "to": target.name},
    )
    request_advance(request)
