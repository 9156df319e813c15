"""Who may act on promotion requests. Every page, API view and service asks here.

Three questions, as in wagtail's permission policies: may this user act on this request
(``user_can_submit`` / ``decide_refusal``), which requests may this user see or act on
(``requests_visible_to`` / ``requests_awaiting``), and which users may act on this step
(``step_reviewers``, the notification recipients).
"""

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet

from approvals.models import Decision, PromotionRequest, StepState
from registry.models import ModelVersion
from registry.permissions import models_visible_to, user_can_view_model, users_who_see_model
from registry.roles import DATA_SCIENTIST, IT_ENGINEER, has_role, role_names


def user_can_submit(user, version: ModelVersion) -> bool:
    """Data scientists who see the model may submit its versions."""
    if not user_can_view_model(user, version.model):
        return False
    return user.is_superuser or has_role(user, DATA_SCIENTIST)


def user_can_rollback(user, model) -> bool:
    """IT engineers who see the model may restore its previous production version."""
    if not user_can_view_model(user, model):
        return False
    return user.is_superuser or has_role(user, IT_ENGINEER)


def is_step_reviewer(user, step: StepState) -> bool:
    """Whether ``user`` holds a role (or is named) for ``step``; superusers stand in for any role."""
    if user.is_superuser:
        return True
    names = {group.name for group in step.approver_groups.all()}
    return bool(names & role_names(user)) or any(u.pk == user.pk for u in step.approver_users.all())


def decide_refusal(user, request: PromotionRequest, step: StepState) -> str | None:
    """Why ``user`` may not decide ``step`` of ``request``, or None if they may.

    Four-eyes: nobody decides a request they submitted or a version they registered,
    superusers included.
    """
    if not user.is_authenticated or not user.is_active:
        return "Log in to decide."
    if not step.is_human:
        return "This step is automated; nobody decides it."
    if user.pk in (request.submitted_by_id, request.version.created_by_id):
        return "You submitted this version; someone else must decide it (four-eyes rule)."
    if not is_step_reviewer(user, step):
        roles = ", ".join(group.name for group in step.approver_groups.all()) or "named reviewers"
        return f"Only {roles} may decide '{step.title}'."
    if not user_can_view_model(user, request.model):
        return "You do not have access to this model."
    return None


def requests_visible_to(user) -> QuerySet[PromotionRequest]:
    return PromotionRequest.objects.filter(model__in=models_visible_to(user))


def requests_awaiting(user) -> QuerySet[PromotionRequest]:
    """Open requests whose current step waits for a decision ``user`` may make."""
    if not user.is_authenticated:
        return PromotionRequest.objects.none()
    step = OuterRef("current_step_id")
    by_role = StepState.approver_groups.through.objects.filter(stepstate_id=step, group__user=user)
    by_name = StepState.approver_users.through.objects.filter(stepstate_id=step, user_id=user.pk)
    decided = Decision.objects.filter(step_id=step, actor_id=user.pk)
    # EXISTS rather than joins: no duplicate rows to remove, and the planner stops at the first match.
    return (
        requests_visible_to(user)
        .filter(status=PromotionRequest.Status.AWAITING_REVIEW, current_step__status=StepState.Status.WAITING)
        .filter(Exists(by_role) | Exists(by_name))
        .exclude(Exists(decided))
        .exclude(submitted_by=user)
        .exclude(version__created_by=user)
    )


def step_reviewers(step: StepState):
    """Active users who may decide ``step``: its roles and named users, who can see the model,
    less the request's author."""
    request = step.request
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(groups__in=step.approver_groups.all()) | Q(pk__in=step.approver_users.all()))
        .filter(pk__in=users_who_see_model(request.model).values("pk"))
        .exclude(pk__in=[request.submitted_by_id, request.version.created_by_id])
        .distinct()
    )
