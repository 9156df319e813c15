"""Who may act on promotion requests: the approvals app's one permission policy.

Every page, API view, service, queue and e-mail asks here, so they cannot disagree
(wagtail's permission policies, netbox's ``restrict``):

- ``refusal(user, action, obj)`` / ``can(user, action, obj)``: may this user do this to this object;
- ``restrict(queryset, user, action)``: which requests may this user see, or decide now;
- ``users_who_can(action, obj)``: who may decide this step (the e-mail recipients);
- ``deciders(step)``: the people asked to decide it and, of them, who may now (the e-mail's links).

Separation of duties, one rule with one home (``_decide_refusal``): whoever authored the work a
request carries (its submitter, the author of its version, of any version it was derived from
and of any version with the same artifact: ``RequestAuthor``, fixed by ``authors_of_work`` at
submission) decides none of its steps; one person decides at most one
human step of a request; roles come from the groups a person holds, never from superuser status.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, When
from django.utils import timezone

from accounts.models import PasswordSetByOther
from approvals.models import (
    Comment,
    Decision,
    Delegation,
    EmergencyRelease,
    PromotionRequest,
    RequestAuthor,
    StepState,
    Thread,
    Waiver,
)
from registry import permissions as registry_permissions
from registry.models import ModelVersion, RegisteredModel
from registry.roles import (
    DATA_SCIENTIST,
    IT_ENGINEER,
    group_ids,
    has_role_in,
    holders,
    remember_groups,
    roles_in,
    team_role_ids,
)

VIEW = "view"  # a PromotionRequest
SUBMIT = "submit"  # a ModelVersion
DECIDE = "decide"  # a StepState
ROLLBACK = "rollback"  # a RegisteredModel
WITHDRAW = "withdraw"  # a PromotionRequest
COMMENT = "comment"  # a PromotionRequest: start a thread or reply
EDIT_COMMENT = "edit_comment"  # a Comment
RESOLVE = "resolve"  # a Thread
REQUEST_WAIVER = "request_waiver"  # a CheckRun
DECIDE_WAIVER = "decide_waiver"  # a Waiver
EMERGENCY = "emergency"  # a PromotionRequest: ask for an emergency release (break-glass)
SECOND_EMERGENCY = "second_emergency"  # an EmergencyRelease: agree to it, or refuse it
HUMAN_KINDS = StepState.HUMAN_KINDS


def _active(user) -> bool:
    return user.is_authenticated and user.is_active


@dataclass(frozen=True)
class Delegated:
    """A delegation ``user`` holds now: for whom, on which models and steps of which roles (empty: all)."""

    principal_id: int
    model_ids: frozenset
    role_ids: frozenset

    def covers(self, step: StepState) -> bool:
        """Whether it reaches ``step``: its model and, when limited to roles, one of the step's roles."""
        if self.model_ids and step.request.model_id not in self.model_ids:
            return False
        return not self.role_ids or bool(self.role_ids & {group.pk for group in step.approver_groups.all()})


def active_delegations() -> QuerySet[Delegation]:
    """Delegations in force now: started, not ended, not revoked (they lapse by themselves)."""
    now = timezone.now()
    return Delegation.objects.filter(revoked_at=None, starts_at__lte=now, ends_at__gt=now)


def delegations_to(user) -> list[Delegated]:
    """The delegations ``user`` holds now (started, not ended, not revoked); read once per user
    object (a request's user, an e-mail's recipient)."""
    cached = user.__dict__.get("_signoff_delegations")
    if cached is None:
        remember_delegations([user])
        cached = user.__dict__["_signoff_delegations"]
    return cached


def remember_delegations(users) -> None:
    """Read the delegations each of ``users`` holds now, in one query and two more when there are
    any, and cache them on each (as ``delegations_to`` would one by one)."""
    rows = list(active_delegations().filter(delegate_id__in=[user.pk for user in users]).values_list(
        "pk", "delegate_id", "principal_id"
    ))  # fmt: skip
    scopes = {pk: (set(), set()) for pk, _, _ in rows}
    if rows:
        through = Delegation.registered_models.through.objects.filter(delegation_id__in=list(scopes))
        for pk, model_id in through.values_list("delegation_id", "registeredmodel_id"):
            scopes[pk][0].add(model_id)
        through = Delegation.roles.through.objects.filter(delegation_id__in=list(scopes))
        for pk, group_id in through.values_list("delegation_id", "group_id"):
            scopes[pk][1].add(group_id)
    held = {user.pk: [] for user in users}
    for pk, delegate_id, principal_id in rows:
        held[delegate_id].append(Delegated(principal_id, frozenset(scopes[pk][0]), frozenset(scopes[pk][1])))
    for user in users:
        user.__dict__["_signoff_delegations"] = held[user.pk]


def holds_step_role(user, step: StepState) -> bool:
    """Whether ``user`` holds one of ``step``'s roles or is named on it, in their own right or
    for a principal named on it whose delegation they hold (superuser status is no role)."""
    names = {group.name for group in step.approver_groups.all()}
    named = {u.pk for u in step.approver_users.all()}
    if names & roles_in(user, step.request.model.team_id) or user.pk in named:
        return True
    return any(d.principal_id in named and d.covers(step) for d in delegations_to(user))


def on_behalf_of(user, step: StepState):
    """The principal ``user`` stands in for when deciding ``step``: one whose delegation they
    hold, which reaches the step, and who could be asked to decide it (named on it, or holding
    one of its roles). None when they decide only in their own right."""
    principals = [d.principal_id for d in delegations_to(user) if d.covers(step)]
    if not principals:
        return None
    return (
        get_user_model()
        .objects.filter(pk__in=principals, is_active=True)
        .filter(Q(pk__in=step.approver_users.all()) | holders(step.approver_groups.all(), step.request.model.team_id))
        .order_by("pk")
        .first()
    )


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


def decidable_steps(
    user, *, as_started: bool = False, request_id: int | None = None, decisions: list | None = None
) -> QuerySet[StepState]:
    """The steps ``user`` may decide now: the one eligibility expression from which ``can``,
    ``restrict`` (the queue) and ``users_who_can`` (the e-mail recipients) derive, so buttons,
    "Waiting for me", e-mails, the API and the services cannot disagree.

    A waiting human step whose roles ``user`` holds or that names them, of a model they have
    access to (a grant, never superuser status), unless they authored the work (``RequestAuthor``,
    the version's author, a later copy of its artifact), a password someone else set is theirs,
    they already decided this round of the step, or they decided another step of the request
    (one person decides at most one, unless the step's ``allow_deciders_of`` names that one).

    ``as_started``: as when the step started, before anyone decided it (the e-mail asking for a
    review is sent after the fact). ``request_id``: only that request's steps (pages, services,
    e-mail); without it, every open request's (the queue). ``decisions``: the user's decisions on
    request ``request_id`` as ``_decisions_on`` reads them, when the caller read them already (for
    several people in one query: ``users_who_can``)."""
    if not _active(user):
        return StepState.objects.none()
    # Joins and uncorrelated IN lists where they serve: cheap for the ORM to build on every
    # request, and PostgreSQL starts from the few active steps (step_active_idx).
    within_teams = team_role_ids(user)  # first: it reads the groups with them
    covered = Q(approver_groups__in=group_ids(user)) | Q(approver_users=user.pk)
    for team_id, role_ids in within_teams.items():  # roles held within one team: its models only
        covered |= Q(request__model__team_id=team_id, approver_groups__in=role_ids)
    for delegated in delegations_to(user):  # steps naming a principal whose delegation they hold
        by_name = Q(approver_users=delegated.principal_id)
        if delegated.model_ids:
            by_name &= Q(request__model_id__in=delegated.model_ids)
        if delegated.role_ids:
            by_name &= Q(approver_groups__in=delegated.role_ids)
        covered |= by_name
    steps = StepState.objects.filter(
        covered,
        registry_permissions.model_filter(user, registry_permissions.ACT, "request__model"),
        kind__in=HUMAN_KINDS,
    )
    if request_id is not None:
        steps = steps.filter(request_id=request_id)
    if not as_started:
        steps = steps.filter(status=StepState.Status.WAITING, request__status=PromotionRequest.Status.AWAITING_REVIEW)
    authored = RequestAuthor.objects.filter(user_id=user.pk).values("request_id")
    own_artifacts = ModelVersion.objects.filter(created_by_id=user.pk).values("artifact_sha256")
    released = EmergencyRelease.objects.filter(Q(requested_by_id=user.pk) | Q(decided_by_id=user.pk))
    return steps.exclude(
        # whoever asked for or agreed to an emergency release does not review it afterwards
        Q(kind=StepState.Kind.RETROSPECTIVE, request_id__in=released.values("request_id"))
        | Q(Exists(PasswordSetByOther.objects.filter(user_id=user.pk)))
        | Q(request__submitted_by_id=user.pk)
        | Q(request__version__created_by_id=user.pk)
        | Q(request_id__in=authored)
        | Q(request__version__artifact_sha256__in=own_artifacts)
        | _decided(user, as_started=as_started, request_id=request_id, decisions=decisions)
    )


# What ``_decided`` reads of a person's decision.
DECISION_FIELDS = ("request_id", "step_id", "round", "step__name")


def _decided(user, *, as_started: bool, request_id: int | None, decisions: list | None = None) -> Q:
    """The steps ``user``'s own decisions on open requests rule out: the step they decided in its
    current round, and every other step of that request whose ``allow_deciders_of`` does not name
    the step they decided (a deployment that failed waits again in a new round, where its own
    earlier decisions do not count). Read in one small query (a person's decisions on open
    requests, or on the one request asked about) rather than a correlated subquery per step;
    ``decisions``, when given, are theirs on request ``request_id``, read already."""
    if decisions is None:
        if request_id is None:
            on_open = Decision.objects.filter(actor_id=user.pk, request__status__in=PromotionRequest.OPEN_STATUSES)
            decisions = list(on_open.values_list(*DECISION_FIELDS))
        else:
            decisions = _decisions_on(request_id, [user]).get(user.pk, [])
    elif request_id is None:
        raise ValueError("decisions read already are those on one request: name it")
    ruled_out = Q(pk__in=[])
    for decided_request_id, step_id, round_, name in decisions:
        if not as_started:
            ruled_out |= Q(pk=step_id, round=round_)
        ruled_out |= Q(request_id=decided_request_id) & ~Q(pk=step_id) & ~Q(allow_deciders_of__contains=f",{name},")
    return ruled_out


def _decisions_on(request_id: int, users) -> dict[int, list[tuple]]:
    """Each of ``users``' decisions on request ``request_id`` (one query for any number), by user id."""
    found = {}
    rows = Decision.objects.filter(request_id=request_id, actor_id__in=[user.pk for user in users]).values_list(
        "actor_id", *DECISION_FIELDS
    )
    for actor_id, *decision in rows:
        found.setdefault(actor_id, []).append(tuple(decision))
    return found


def steps_to_decide(user, request: PromotionRequest) -> set[int]:
    """Ids of the steps of ``request`` that ``user`` may decide now (one query, for pages)."""
    return set(decidable_steps(user, request_id=request.pk).values_list("pk", flat=True).distinct())


def _decide_refusal(user, step: StepState) -> str | None:
    """None when ``decidable_steps`` holds ``step`` for ``user``; otherwise the reason a person
    reads (the expression decides; the reasons only explain)."""
    if not step.is_human:
        return "This step is automated; nobody decides it."
    if decidable_steps(user, request_id=step.request_id).filter(pk=step.pk).exists():
        return None
    request = step.request
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
    if step.kind == StepState.Kind.RETROSPECTIVE and (
        EmergencyRelease.objects.filter(request_id=request.pk)
        .filter(Q(requested_by_id=user.pk) | Q(decided_by_id=user.pk))
        .exists()
    ):
        return "You took part in the emergency release; someone else reviews it (separation of duties)."
    earlier = Decision.objects.filter(request_id=request.pk, actor_id=user.pk).exclude(step_id=step.pk)
    decided = earlier.select_related("step").first()
    if decided is not None:
        return (
            f"You decided '{decided.step.title}' of this request; one person decides at most one step "
            "(separation of duties)."
        )
    if step.decisions.filter(actor_id=user.pk, round=step.round).exists():
        return f"You already decided '{step.title}'."
    return f"'{step.title}' is not waiting for your decision."


def refusal(user, action: str, obj) -> str | None:
    """Why ``user`` may not do ``action`` on ``obj``, or None when they may."""
    if not _active(user):
        return "Log in first."
    if action == VIEW:
        return registry_permissions.refusal(user, registry_permissions.VIEW, obj.model)
    if action == SUBMIT:
        if not registry_permissions.can(user, registry_permissions.ACT, obj.model):
            return "You do not have access to this model."
        if not has_role_in(user, DATA_SCIENTIST, obj.model.team_id):
            return "Only data scientists with access to this model may submit its versions."
        return None
    if action == ROLLBACK:
        if not registry_permissions.can(user, registry_permissions.ACT, obj):
            return "You do not have access to this model."
        if not has_role_in(user, IT_ENGINEER, obj.team_id):
            return "Only IT engineers with access to this model may roll it back."
        return None
    if action == DECIDE:
        return _decide_refusal(user, obj)
    if action == WITHDRAW:
        if obj.submitted_by_id != user.pk:
            return "Only the person who submitted this request may withdraw it."
        if not registry_permissions.can(user, registry_permissions.ACT, obj.model):
            return "You do not have access to this model."
        return None
    if action in (COMMENT, EDIT_COMMENT, RESOLVE):
        return _conversation_refusal(user, action, obj)
    if action == REQUEST_WAIVER:
        request = obj.step.request
        if not obj.step.config.get("waivable_by"):
            return "The workflow lets nobody waive this step's checks."
        if request.submitted_by_id != user.pk:
            return "Only the person who submitted the request may ask for a waiver."
        if not registry_permissions.can(user, registry_permissions.ACT, request.model):
            return "You do not have access to this model."
        return None
    if action == DECIDE_WAIVER:
        return _waiver_refusal(user, obj)
    if action == EMERGENCY:
        return _emergency_refusal(user, obj, roles_key="by")
    if action == SECOND_EMERGENCY:
        if obj.requested_by_id == user.pk:
            return "You asked for this emergency release; someone else must agree to it (four-eyes rule)."
        return _emergency_refusal(user, obj.request, roles_key="second")
    raise ValueError(f"Unknown action {action!r}")


def _waiver_refusal(user, waiver: Waiver) -> str | None:
    """Who may grant or refuse a waiver: a holder of a role the checks step names in
    ``waivable_by``, with access to the model, who authored none of the work (the four-eyes
    rule holds for waivers as for decisions) and whose password is their own."""
    request = waiver.request
    roles = waiver.check_run.step.config.get("waivable_by") or []
    if not set(roles) & roles_in(user, request.model.team_id):
        return f"Only {', '.join(roles) or 'nobody'} may waive this check."
    return _impartial_refusal(user, request, "decide the waiver")


def _impartial_refusal(user, request: PromotionRequest, what: str) -> str | None:
    """What stops someone who holds the role from deciding something about ``request`` beside its
    steps (a waiver, an emergency release): no access to the model, having authored the work
    (the four-eyes rule), or a password someone else set."""
    if not registry_permissions.can(user, registry_permissions.ACT, request.model):
        return "You do not have access to this model."
    authored = _authorship(user, request) or _twin_authorship(user, request)
    if authored:
        return authored.replace("decide it", what)
    if PasswordSetByOther.objects.filter(user_id=user.pk).exists():
        return "Your password was set by someone else; change it on your profile page before you decide anything."
    return None


def _emergency_refusal(user, request: PromotionRequest, *, roles_key: str) -> str | None:
    """Who may ask for an emergency release of ``request`` (``roles_key`` "by") or agree to one
    ("second"): a holder of a role the request's workflow names under ``break_glass``, with
    access to the model, who authored none of the work, decided none of its steps, and whose
    password is their own."""
    from approvals.revisions import request_definition

    glass = request_definition(request).break_glass
    if not glass.enabled:
        return "This request's workflow allows no emergency release."
    roles = getattr(glass, roles_key)
    if not set(roles) & roles_in(user, request.model.team_id):
        what = "ask for" if roles_key == "by" else "agree to"
        return f"Only {', '.join(roles)} may {what} an emergency release."
    impartial = _impartial_refusal(user, request, "take part in its emergency release")
    if impartial:
        return impartial
    decided = Decision.objects.filter(request_id=request.pk, actor_id=user.pk).select_related("step").first()
    if decided is not None:
        return (
            f"You decided '{decided.step.title}' of this request; someone who decided none of its steps takes part "
            "in its emergency release (separation of duties)."
        )
    return None


def users_who_may_second(emergency: EmergencyRelease):
    """Active users who may agree to ``emergency`` or refuse it (the e-mail recipients)."""
    from approvals.revisions import request_definition

    roles = request_definition(emergency.request).break_glass.second
    candidates = list(
        registry_permissions.users_who_can(registry_permissions.ACT, emergency.request.model)
        .filter(groups__name__in=roles)
        .distinct()
    )
    remember_groups(candidates)
    return [person for person in candidates if refusal(person, SECOND_EMERGENCY, emergency) is None]


def users_who_may_waive(waiver: Waiver):
    """Active users who may grant or refuse ``waiver`` (the e-mail recipients)."""
    roles = waiver.check_run.step.config.get("waivable_by") or []
    model = waiver.request.model
    candidates = list(
        registry_permissions.users_who_can(registry_permissions.ACT, model).filter(holders(roles, model.team_id))
    )
    remember_groups(candidates)
    return [person for person in candidates if _waiver_refusal(person, waiver) is None]


def _conversation_refusal(user, action: str, obj) -> str | None:
    """Anyone who works on the model (a grant) talks on its requests; a comment's author edits it
    for ``SIGNOFF_COMMENT_EDIT_MINUTES``; who started a thread, or authored the work, resolves it."""
    request = {COMMENT: lambda: obj, EDIT_COMMENT: lambda: obj.request, RESOLVE: lambda: obj.started_on}[action]()
    if not registry_permissions.can(user, registry_permissions.ACT, request.model):
        return "You do not have access to this model."
    if action == EDIT_COMMENT:
        if obj.author_id != user.pk:
            return "Only its author may edit a comment."
        if timezone.now() - obj.created_at > timedelta(minutes=settings.SIGNOFF_COMMENT_EDIT_MINUTES):
            return (
                f"A comment can be edited for {settings.SIGNOFF_COMMENT_EDIT_MINUTES} minutes after it is posted; "
                "reply instead."
            )
    if action == RESOLVE and obj.pk not in threads_to_resolve(user, [obj]):
        return "Only the person who started this thread, or an author of the work, may resolve it."
    return None


def threads_to_resolve(user, threads: list[Thread]) -> set[int]:
    """Ids of ``threads`` that ``user`` may resolve or reopen: those they started, or whose request
    they authored (submitted, or ``RequestAuthor``); one query for any number of threads."""
    if not _active(user):
        return set()
    started_on = {thread.started_on_id for thread in threads}
    authored = set(
        RequestAuthor.objects.filter(user_id=user.pk, request_id__in=started_on).values_list("request_id", flat=True)
    )
    return {
        thread.pk
        for thread in threads
        if user.pk in (thread.started_by_id, thread.started_on.submitted_by_id) or thread.started_on_id in authored
    }


Subject = PromotionRequest | ModelVersion | RegisteredModel | StepState | Comment | Thread | Waiver | EmergencyRelease


def can(user, action: str, obj: Subject) -> bool:
    return refusal(user, action, obj) is None


def restrict(queryset: QuerySet[PromotionRequest], user, action: str) -> QuerySet[PromotionRequest]:
    """Requests of ``queryset`` that ``user`` may see (VIEW), or with a step waiting for a
    decision ``user`` may make (DECIDE): ``decidable_steps``, as a filter on requests."""
    if not _active(user):
        return queryset.none()
    if action == VIEW:
        return queryset.filter(registry_permissions.model_filter(user, registry_permissions.VIEW, "model"))
    if action != DECIDE:
        raise ValueError(f"restrict() does not apply to {action!r}")
    # The status first: the partial index request_awaiting_idx serves the queue, newest first.
    return queryset.filter(
        status=PromotionRequest.Status.AWAITING_REVIEW, pk__in=decidable_steps(user).values("request_id")
    )


def users_who_can(action: str, obj: StepState, *, as_started: bool = False):
    """Active users who may decide the step ``obj``: of the people its kind names eligible (roles,
    named users), those for whom ``decidable_steps`` holds it.

    ``as_started``: who could when the step started, although some of them may have decided it
    since (the e-mail asking for a review is sent after the fact)."""
    if action != DECIDE:
        raise ValueError(f"users_who_can() does not apply to {action!r}")
    asked = _asked(obj, as_started=as_started).people
    return get_user_model().objects.filter(pk__in=[user.pk for user in asked])


# People whose eligibility one query asks about at once (an EXISTS per person).
ELIGIBILITY_BATCH = 50


@dataclass(frozen=True)
class Asked:
    """``_asked``'s answer: the people, loaded; their decisions on the step's request
    (``_decisions_on``); and the round the step waits in for a decision now (None when it does
    not: it is not waiting, or its request does not await review), read with them."""

    people: list
    decisions: dict
    waiting_round: int | None


def _asked(step: StepState, *, as_started: bool) -> Asked:
    """``users_who_can``'s people: the candidates (the kind's eligible people and whoever stands
    in for one of them), each asked ``decidable_steps``, in a number of queries that does not grow
    with the candidates (their groups, team roles, delegations and decisions on the request read
    for all at once, then one query per ``ELIGIBILITY_BATCH`` people)."""
    from approvals.engine import kind_of

    # Read as lists: one query nesting the eligible people twice (once for the delegations) cost
    # more to build and to plan than these two, and a third when someone stands in.
    people = get_user_model().objects.filter(is_active=True)
    candidates = {user.pk: user for user in people.filter(kind_of(step).eligible(step)).distinct()}
    # whoever stands in for one of them is asked too
    standing_in = set(
        active_delegations().filter(principal__in=list(candidates)).values_list("delegate_id", flat=True)
    ).difference(candidates)
    if standing_in:
        candidates.update((user.pk, user) for user in people.filter(pk__in=standing_in))
    candidates = [candidates[pk] for pk in sorted(candidates)]
    if not candidates:
        return Asked([], {}, None)
    remember_groups(candidates)
    remember_delegations(candidates)
    decisions = _decisions_on(step.request_id, candidates)
    waits_in = Case(
        When(status=StepState.Status.WAITING, request__status=PromotionRequest.Status.AWAITING_REVIEW, then="round")
    )
    allowed, waiting_round = set(), None
    for start in range(0, len(candidates), ELIGIBILITY_BATCH):
        batch = candidates[start : start + ELIGIBILITY_BATCH]
        holds = {
            f"may_{index}": Exists(
                decidable_steps(
                    user, as_started=as_started, request_id=step.request_id, decisions=decisions.get(user.pk, [])
                ).filter(pk=OuterRef("pk"))
            )
            for index, user in enumerate(batch)
        }
        row = StepState.objects.filter(pk=step.pk).values(waits_in=waits_in, **holds).first() or {}
        allowed |= {user.pk for index, user in enumerate(batch) if row.get(f"may_{index}")}
        if start == 0:
            waiting_round = row.get("waits_in")
    return Asked([user for user in candidates if user.pk in allowed], decisions, waiting_round)


def deciders(step: StepState) -> tuple[list, set[int]]:
    """The people asked to decide ``step`` (``users_who_can(DECIDE, step, as_started=True)``) and
    the ids of those of them who may decide it now, with one evaluation of the expression per
    person. "Now" is "as started" with the only conditions ``as_started`` leaves out put back: the
    step waits, its request awaits review, and the person has not decided the step's current
    round (all read with them, in the same queries)."""
    asked = _asked(step, as_started=True)
    if asked.waiting_round is None:
        return asked.people, set()
    decided = {
        actor_id
        for actor_id, made in asked.decisions.items()
        if any(step_id == step.pk and round_ == asked.waiting_round for _, step_id, round_, _ in made)
    }
    return asked.people, {person.pk for person in asked.people} - decided


def requests_visible_to(user) -> QuerySet[PromotionRequest]:
    return restrict(PromotionRequest.objects.all(), user, VIEW)


def requests_awaiting(user) -> QuerySet[PromotionRequest]:
    """Open requests with a step waiting for a decision ``user`` may make."""
    return restrict(PromotionRequest.objects.all(), user, DECIDE)
