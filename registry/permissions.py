"""Who may see and change what in the registry. The only module that talks to guardian.

One policy answers the three questions (wagtail's permission policies, netbox's ``restrict``):
``can(user, action, obj)``, ``restrict(queryset, user, action)`` and ``users_who_can(action, obj)``;
``refusal`` says why not, for the message a person reads.

A model is visible to the members of its owning team (the team's group holds guardian's
``view_registeredmodel`` on it) and to anyone granted that permission on the object in the
admin. Superusers see every model but act only through the roles they hold. Global model
permissions are deliberately not honoured (``accept_global_perms=False``): access is per object.
"""

from functools import lru_cache

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q, QuerySet
from guardian.shortcuts import assign_perm, remove_perm

from registry.models import (
    RegisteredModel,
    RegisteredModelGroupObjectPermission,
    RegisteredModelUserObjectPermission,
    Team,
)
from registry.roles import DATA_ANALYST, DATA_SCIENTIST, group_ids, has_role, has_role_in, holders, teams_where

VIEW_CODENAME = "view_registeredmodel"

VIEW = "view"  # a RegisteredModel: superusers see every model
ACT = "act"  # a RegisteredModel: access through a grant (team or direct), superuser status aside
CREATE_MODEL = "create_model"  # a Team
REGISTER_VERSION = "register_version"  # a RegisteredModel
REGISTER_DATASET = "register_dataset"  # a RegisteredModel: its evaluation datasets
ACTIONS = (VIEW, ACT, CREATE_MODEL, REGISTER_VERSION, REGISTER_DATASET)


def _active(user) -> bool:
    return user.is_authenticated and user.is_active


def models_visible_to(user) -> QuerySet[RegisteredModel]:
    """Every registered model ``user`` may see."""
    return restrict(RegisteredModel.objects.all(), user, VIEW)


def teams_of(user) -> QuerySet[Team]:
    if not _active(user):
        return Team.objects.none()
    return Team.objects.filter(group__user=user)


def restrict(queryset: QuerySet[RegisteredModel], user, action: str) -> QuerySet[RegisteredModel]:
    """The models of ``queryset`` on which ``user`` may do ``action``."""
    return queryset.filter(model_filter(user, action))


def model_filter(user, action: str, field: str = "pk") -> Q:
    """A filter keeping the rows whose ``field`` is a model on which ``user`` may do ``action``
    (``field="model"`` for requests, versions, audit events).

    Guardian's object-permission tables are read directly with the user's groups as a literal
    list, so PostgreSQL hashes the granted ids once instead of joining per row."""
    if action not in (VIEW, ACT, REGISTER_VERSION):
        raise ValueError(f"model_filter() does not apply to {action!r}")
    if not _active(user):
        return Q(pk__in=[])
    if action == REGISTER_VERSION and not has_role(user, DATA_SCIENTIST):
        within = teams_where(user, DATA_SCIENTIST)  # a data scientist of some teams only
        if not within:
            return Q(pk__in=[])
        team = "team_id" if field == "pk" else f"{field}__team_id"
        return Q(**{f"{team}__in": within}) & model_filter(user, ACT, field)
    if user.is_superuser and action == VIEW:
        return Q()
    by_user = RegisteredModelUserObjectPermission.objects.filter(user_id=user.pk, permission__codename=VIEW_CODENAME)
    by_group = RegisteredModelGroupObjectPermission.objects.filter(
        group_id__in=group_ids(user), permission__codename=VIEW_CODENAME
    )
    return Q(**{f"{field}__in": by_user.values("content_object_id")}) | Q(
        **{f"{field}__in": by_group.values("content_object_id")}
    )


def refusal(user, action: str, obj) -> str | None:
    """Why ``user`` may not do ``action`` on ``obj``, or None when they may."""
    if not _active(user):
        return "Log in first."
    if action == CREATE_MODEL:
        if not has_role_in(user, DATA_SCIENTIST, obj.pk):
            return "Only data scientists may register models."
        if obj.group_id not in group_ids(user):  # a team's members are its group's members
            return f"You may register models only for your own teams, not {obj.name}."
        return None
    if action not in ACTIONS:
        raise ValueError(f"Unknown action {action!r}")
    if not (action == VIEW and user.is_superuser) and not _granted(user, obj.pk):
        return "You do not have access to this model."
    if action == REGISTER_VERSION and not has_role_in(user, DATA_SCIENTIST, obj.team_id):
        return "Only data scientists with access to this model may register its versions."
    if action == REGISTER_DATASET and not (
        has_role_in(user, DATA_SCIENTIST, obj.team_id) or has_role_in(user, DATA_ANALYST, obj.team_id)
    ):
        # Hold-out data often comes from QA: evidence need not come from the people it judges.
        return "Only data scientists and data analysts with access to this model may register its datasets."
    return None


def _granted(user, model_pk: int) -> bool:
    if model_pk in user.__dict__.get("_signoff_seen_models", ()):
        return True
    return RegisteredModel.objects.filter(pk=model_pk).filter(model_filter(user, ACT)).exists()


def note_visible(user, model: RegisteredModel) -> None:
    """``model`` was just read through ``restrict(…, VIEW)`` for ``user`` (a request's user, gone
    when the request ends): for anyone but a superuser, who sees every model, that read proved a
    grant, so the service the view calls next need not look it up again."""
    if _active(user) and not user.is_superuser:
        user.__dict__.setdefault("_signoff_seen_models", set()).add(model.pk)


def can(user, action: str, obj) -> bool:
    return refusal(user, action, obj) is None


def users_who_can(action: str, obj: RegisteredModel):
    """Active users who may do ``action`` (ACT or REGISTER_VERSION) on the model ``obj``, through a
    grant: the people to notify. Read from the direct-FK grant tables in one query."""
    grants = Q(
        pk__in=RegisteredModelUserObjectPermission.objects.filter(
            content_object=obj, permission__codename=VIEW_CODENAME
        ).values("user_id")
    ) | Q(
        groups__in=RegisteredModelGroupObjectPermission.objects.filter(
            content_object=obj, permission__codename=VIEW_CODENAME
        ).values("group_id")
    )
    users = get_user_model().objects.filter(grants, is_active=True)
    if action == REGISTER_VERSION:
        users = users.filter(holders([DATA_SCIENTIST], obj.team_id))
    elif action != ACT:
        raise ValueError(f"users_who_can() does not apply to {action!r}")
    return get_user_model().objects.filter(pk__in=users.values("pk"))


# ---------------------------------------------------------------------------------------------
# Grants (called by registry.services, which audit them)


def model_grant_team_access(*, model: RegisteredModel) -> None:
    """Give the owning team's members access to ``model`` (a new model: one insert into
    guardian's table, without guardian's get-or-create round trips)."""
    # bulk_create skips guardian's save(), which re-reads the permission and content type to
    # check what this already guarantees (the model's own view permission).
    RegisteredModelGroupObjectPermission.objects.bulk_create(
        [
            RegisteredModelGroupObjectPermission(
                permission_id=view_permission_id(), group_id=model.team.group_id, content_object=model
            )
        ]
    )


@lru_cache(maxsize=1)
def view_permission_id() -> int:
    """The id of the "view registered model" permission, read once per process (and again after
    ``migrate`` or a test's flush recreates the permissions: ``registry.apps``)."""
    return Permission.objects.values_list("pk", flat=True).get(
        content_type__app_label="registry", content_type__model="registeredmodel", codename=VIEW_CODENAME
    )


def model_revoke_team_access(*, model: RegisteredModel, team: Team) -> None:
    remove_perm(VIEW_CODENAME, team.group, model)


def model_set_access(*, model: RegisteredModel, grantee, granted: bool) -> bool:
    """Give or withdraw ``grantee`` (a user or group) access to ``model``; True when it changed."""
    if isinstance(grantee, Group):
        grants = RegisteredModelGroupObjectPermission.objects.filter(group=grantee)
    else:
        grants = RegisteredModelUserObjectPermission.objects.filter(user=grantee)
    has = grants.filter(content_object=model, permission__codename=VIEW_CODENAME).exists()
    if granted and not has:
        assign_perm(VIEW_CODENAME, grantee, model)
        return True
    if not granted and has:
        remove_perm(VIEW_CODENAME, grantee, model)
        return True
    return False
