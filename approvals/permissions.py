"""Who may act on promotion requests: the approvals app's one permission policy.

Every page, API view, service, queue and e-mail asks here, so they cannot disagree
(wagtail's permission policies, netbox's ``restrict``):

- ``refusal(user, action, obj)`` / ``can(user, action, obj)``: may this user do this to this object;
- ``restrict(queryset, user, action)``: which requests may this user see, or decide now;
- ``users_who_can(action, obj)``: who may decide this step (the e-mail recipients).

Separation of duties, one rule with one home (``_decide_refusal``): whoever authored the work a
request carries (its submitter, the author of its version, of any version it was derived from
and of any version with the same artifact: ``RequestAuthor``, fixed by ``authors_of_work`` at
submission) decides none of its steps; one person decides at most one
human step of a request; roles come from the groups a person holds, never from superuser status.
"""

from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from accounts.models import PasswordSetByOther
from approvals.models import Decision, PromotionRequest, RequestAuthor, StepState
from registry import permissions as registry_permissions
from registry.models import ModelVersion, RegisteredModel
from registry.roles import DATA_SCIENTIST, IT_ENGINEER, group_ids, has_role, role_names

VIEW = "view"  # a PromotionRequest
SUBMIT = "submit"  # a ModelVersion
DECIDE = "decide"  # a StepState
ROLLBACK = "rollback"  # a RegisteredModel


def _active(user) -> bool:
    return user.is_authenticated and user.is_active


def holds_step_role(user, step: StepState) -> bool:
    """Whether ``user`` holds one of ``step``'s roles or is named on it (superuser status is no role)."""
    names = {group.name for group in step.approver_groups.all()}
    return bool(names & role_names(user)) or any(u.pk == user.pk for u in step.approver_users.all())


def steps_for(user, request: PromotionRequest) -> list[StepState]:
    """The human steps of ``request`` that ``user``'s roles or name cover."""
    return [step for step in request.steps.all() if step.is_human and holds_step_role(user, step)]


MAX_DERIVATION_DEPTH = 1000  # versions followed back through derived_from (a chain, never a loop)


def authors_of_work(version: ModelVersion, submitted_by) -> list[tuple[int, str, int]]:
    """(user id, ``RequestAuthor.Reason``, version id) for everyone who authored the work a
    request for ``version`` carries: its submitter, its author, the author of every version it was
    derived from, and of every version anywhere with the same artifact SHA-256."""
    Reason = RequestAuthor.Reason
    authors = {submitted_by.pk: (Reason.SUBMITTED, version.pk)}
    authors.setdefault(version.created_by_id, (Reason.REGISTERED, version.pk))
    seen, ancestor_id = {version.pk}, version.derived_from_id
    while ancestor_id is not None and ancestor_id not in seen and len(seen) < MAX_DERIVATION_DEPTH:
        seen.add(ancestor_id)
        row = ModelVersion.objects.filter(pk=ancestor_id).values("created_by_id", "derived_from_id").first()
        if row is None:
            break
        authors.setdefault(row["created_by_id"], (Reason.EARLIER_VERSION, ancestor_id))
        ancestor_id = row["derived_from_id"]
    twins = ModelVersion.objects.filter(artifact_sha256=version.artifact_sha256).exclude(pk=version.pk)
    for twin_id, author_id in twins.values_list("pk", "created_by_id"):
        authors.setdefault(author_id, (Reason.SAME_ARTIFACT, twin_id))
    return [(user_id, reason, version_id) for user_id, (reason, version_id) in authors.items()]


def _authorship(user, request: PromotionRequest) -> str | None:
    row = RequestAuthor.objects.filter(request_id=request.pk, user_id=user.pk).values("reason").first()
    if row is None and user.pk not in (request.submitted_by_id, request.version.created_by_id):
        return None
    reason = RequestAuthor.Reason(row["reason"]).label if row else "submitted this version"
    return f"You {reason}; someone else must decide it (four-eyes rule)."


def _same_artifact(sha256) -> QuerySet[ModelVersion]:
    """Versions holding these bytes, registered at any time: an author who registers the
    request's artifact again after it was submitted is as much its author as one before."""
    return ModelVersion.objects.filter(artifact_sha256=sha256)


def _twin_authorship(user, request: PromotionRequest) -> str | None:
    twin = _same_artifact(request.version.artifact_sha256).filter(created_by_id=user.pk).values("number").first()
    if twin is None:
        return None
    return (
        f"You registered version {twin['number']} with the same artifact (SHA-256); "
        "someone else must decide it (four-eyes rule)."
    )


def _decide_refusal(user, step: StepState) -> str | None:
    request = step.request
    if not step.is_human:
        return "This step is automated; nobody decides it."
    authored = _authorship(user, request) or _twin_authorship(user, request)
    if authored:
        return authored
    if PasswordSetByOther.objects.filter(user_id=user.pk).exists():
        return "Your password was set by someone else; change it on your profile page before you decide anything."
    if not holds_step_role(user, step):
        roles = ", ".join(group.name for group in step.approver_groups.all()) or "named reviewers"
        return f"Only {roles} may decide '{step.title}'."
    if not registry_permissions.can(user, registry_permissions.ACT, request.model):
        return "You do not have access to this model."
    earlier = Decision.objects.filter(request_id=request.pk, actor_id=user.pk).exclude(step_id=step.pk)
    decided = earlier.select_related("step").first()
    if decided is not None:
        return (
            f"You decided '{decided.step.title}' of this request; one person decides at most one step "
            "(separation of duties)."
        )
    return None


def refusal(user, action: str, obj) -> str | None:
    """Why ``user`` may not do ``action`` on ``obj``, or None when they may."""
    if not _active(user):
        return "Log in first."
    if action == VIEW:
        return registry_permissions.refusal(user, registry_permissions.VIEW, obj.model)
    if action == SUBMIT:
        if not registry_permissions.can(user, registry_permissions.ACT, obj.model):
            return "You do not have access to this model."
        if not has_role(user, DATA_SCIENTIST):
            return "Only data scientists with access to this model may submit its versions."
        return None
    if action == ROLLBACK:
        if not registry_permissions.can(user, registry_permissions.ACT, obj):
            return "You do not have access to this model."
        if not has_role(user, IT_ENGINEER):
            return "Only IT engineers with access to this model may roll it back."
        return None
    if action == DECIDE:
        return _decide_refusal(user, obj)
    raise ValueError(f"Unknown action {action!r}")


def can(user, action: str, obj: PromotionRequest | ModelVersion | RegisteredModel | StepState) -> bool:
    return refusal(user, action, obj) is None


def restrict(queryset: QuerySet[PromotionRequest], user, action: str) -> QuerySet[PromotionRequest]:
    """Requests of ``queryset`` that ``user`` may see (VIEW), or whose current step waits for
    a decision ``user`` may make (DECIDE): the same rule as ``refusal``, in SQL."""
    if not _active(user):
        return queryset.none()
    if action == VIEW:
        return queryset.filter(registry_permissions.model_filter(user, registry_permissions.VIEW, "model"))
    if action != DECIDE:
        raise ValueError(f"restrict() does not apply to {action!r}")
    visible = queryset.filter(registry_permissions.model_filter(user, registry_permissions.ACT, "model"))
    step = OuterRef("current_step_id")
    # One EXISTS over a UNION ALL rather than "EXISTS … OR EXISTS …": PostgreSQL would hash an OR'd
    # EXISTS over every step ever created; this probes two indexes per row, so the queue costs
    # the same at any size. The user's groups are a literal list, not a join.
    by_role = StepState.approver_groups.through.objects.filter(stepstate_id=step, group_id__in=group_ids(user))
    by_name = StepState.approver_users.through.objects.filter(stepstate_id=step, user_id=user.pk)
    may_decide = by_role.values("stepstate_id").union(by_name.values("stepstate_id"), all=True)
    # Decisions of earlier rounds of the current step (a deployment that failed) do not count.
    # (For a decision of the current step, its step's round is the current step's round.)
    decided_any = Decision.objects.filter(request_id=OuterRef("pk"), actor_id=user.pk).exclude(
        step_id=OuterRef("current_step_id"), round__lt=F("step__round")
    )
    # A request awaits review exactly while its current step waits (services keep the two
    # together), so the status alone selects; the partial index request_awaiting_idx serves it.
    # In SQL, not a Python test: the statement may be compiled once and reused with other values.
    password_known_to_others = Exists(PasswordSetByOther.objects.filter(user_id=user.pk))
    return (
        visible.filter(status=PromotionRequest.Status.AWAITING_REVIEW)
        .filter(~password_known_to_others)
        .filter(Exists(may_decide))
        # NOT IN over a correlated subquery stays a per-row index probe; NOT EXISTS would become a
        # hash anti-join over every decision the user ever took.
        .exclude(pk__in=decided_any.values("request_id"))
        .exclude(submitted_by=user)
        .exclude(version__created_by=user)
        .exclude(pk__in=RequestAuthor.objects.filter(user_id=user.pk).values("request_id"))
        .exclude(Exists(_same_artifact(OuterRef("version__artifact_sha256")).filter(created_by_id=user.pk)))
    )


def users_who_can(action: str, obj: StepState, *, as_the_step_started: bool = False):
    """Active users who may decide the step ``obj``: its roles and named users who see the model,
    less the request's author and anyone who already decided a step of the request.

    ``as_the_step_started``: who could when the step started, although some of them may have
    decided it since (the e-mail asking for a review is sent after the fact)."""
    if action != DECIDE:
        raise ValueError(f"users_who_can() does not apply to {action!r}")
    request = obj.request
    deciders = Decision.objects.filter(request_id=request.pk).exclude(step_id=obj.pk, round__lt=obj.round)
    if as_the_step_started:
        deciders = deciders.exclude(step_id=obj.pk)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__in=obj.approver_groups.all()) | Q(pk__in=obj.approver_users.all()))
        .filter(pk__in=registry_permissions.users_who_can(registry_permissions.ACT, request.model).values("pk"))
        .exclude(pk__in=[request.submitted_by_id, request.version.created_by_id])
        .exclude(pk__in=RequestAuthor.objects.filter(request_id=request.pk).values("user_id"))
        .exclude(pk__in=_same_artifact(request.version.artifact_sha256).values("created_by_id"))
        .exclude(pk__in=PasswordSetByOther.objects.values("user_id"))
        .exclude(pk__in=deciders.values("actor_id"))
        .distinct()
    )


def requests_visible_to(user) -> QuerySet[PromotionRequest]:
    return restrict(PromotionRequest.objects.all(), user, VIEW)


def requests_awaiting(user) -> QuerySet[PromotionRequest]:
    """Open requests whose current step waits for a decision ``user`` may make."""
    return restrict(PromotionRequest.objects.all(), user, DECIDE)
