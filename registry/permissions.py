"""Who may see and change what in the registry. The only module that talks to guardian.

A model is visible to the members of its owning team (the team's group holds guardian's
``view_registeredmodel`` on it) and to anyone granted that permission on the object in the
admin. Superusers see everything. Global model permissions are deliberately not honoured
(``accept_global_perms=False``): access is per object.
"""

from django.db.models import QuerySet
from guardian.shortcuts import assign_perm, get_objects_for_user, get_users_with_perms

from registry.models import RegisteredModel, Team
from registry.roles import DATA_SCIENTIST, has_role

VIEW_MODEL = "registry.view_registeredmodel"


def model_grant_team_access(*, model: RegisteredModel) -> None:
    """Give the owning team's members access to ``model``."""
    assign_perm("view_registeredmodel", model.team.group, model)


def models_visible_to(user) -> QuerySet[RegisteredModel]:
    """Every registered model ``user`` may see."""
    if not user.is_authenticated or not user.is_active:
        return RegisteredModel.objects.none()
    if user.is_superuser:
        return RegisteredModel.objects.all()
    return get_objects_for_user(
        user, VIEW_MODEL, klass=RegisteredModel, accept_global_perms=False, with_superuser=False
    )


def user_can_view_model(user, model: RegisteredModel) -> bool:
    return models_visible_to(user).filter(pk=model.pk).exists()


def user_can_register_version(user, model: RegisteredModel) -> bool:
    """Data scientists who see the model may add versions to it."""
    if not user_can_view_model(user, model):
        return False
    return user.is_superuser or has_role(user, DATA_SCIENTIST)


def teams_of(user) -> QuerySet[Team]:
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(group__user=user)


def user_can_create_model(user, team: Team) -> bool:
    """Data scientists may register models for the teams they belong to."""
    if user.is_superuser:
        return True
    return has_role(user, DATA_SCIENTIST) and teams_of(user).filter(pk=team.pk).exists()


def users_who_see_model(model: RegisteredModel):
    """Users who may see ``model``, through their team or a direct grant (for notifications)."""
    return get_users_with_perms(
        model, only_with_perms_in=["view_registeredmodel"], with_group_users=True, with_superusers=False
    )
