"""Teams and the roles people hold in them (services): an administrator adds a person to a team
with the roles they hold there ("manager of Risk only"), changes those roles, or takes them out
of the team; each change is one audited transaction. A role held within a team counts for that
team's models only (``registry.roles.roles_in``); a role held everywhere is the role's group.
"""

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from registry.models import Team, TeamRole
from registry.signals import announce


def role_groups():
    """The roles a person may hold within a team: every group that is not a team's own."""
    return Group.objects.filter(team__isnull=True).order_by("name")


def _may_manage(actor) -> None:
    if not (actor.is_active and actor.is_superuser):
        raise PermissionDenied("Only administrators change who is in a team and what they do there.")


def _roles(roles) -> list[Group]:
    roles = list(roles)
    allowed = set(role_groups().values_list("pk", flat=True))
    wrong = [role.name for role in roles if role.pk not in allowed]
    if wrong:
        raise ValidationError({"roles": f"'{wrong[0]}' is a team, not a role."})
    return roles


def _lock(team: Team) -> Team:
    return Team.objects.select_for_update().select_related("group").get(pk=team.pk)


def team_member_add(*, team: Team, user, roles, actor) -> None:
    """Make ``user`` a member of ``team`` (they see its models) holding ``roles`` within it."""
    _may_manage(actor)
    roles = _roles(roles)
    if not user.is_active:
        raise ValidationError({"user": f"{user.username} is deactivated."})
    with transaction.atomic():
        team = _lock(team)
        if team.group.user_set.filter(pk=user.pk).exists():
            raise ValidationError({"user": f"{user.username} is already a member of {team.name}."})
        team.group.user_set.add(user)
        TeamRole.objects.bulk_create(TeamRole(team=team, user=user, role=role, granted_by=actor) for role in roles)
        announce(
            actor=actor, verb="team.member_added", obj=team,
            data={"user": user.username, "roles": sorted(role.name for role in roles)},
        )  # fmt: skip


def team_member_roles_set(*, team: Team, user, roles, actor) -> bool:
    """``user`` holds exactly ``roles`` within ``team`` from now on; returns whether anything changed."""
    _may_manage(actor)
    roles = _roles(roles)
    with transaction.atomic():
        team = _lock(team)
        if not team.group.user_set.filter(pk=user.pk).exists():
            raise ValidationError({"user": f"{user.username} is not a member of {team.name}."})
        held = {row.role_id: row for row in TeamRole.objects.filter(team=team, user=user).select_related("role")}
        wanted = {role.pk: role for role in roles}
        removed = [held[pk].role.name for pk in held.keys() - wanted.keys()]
        added = [wanted[pk].name for pk in wanted.keys() - held.keys()]
        if not removed and not added:
            return False
        TeamRole.objects.filter(team=team, user=user, role_id__in=held.keys() - wanted.keys()).delete()
        TeamRole.objects.bulk_create(
            TeamRole(team=team, user=user, role=wanted[pk], granted_by=actor) for pk in wanted.keys() - held.keys()
        )
        announce(
            actor=actor, verb="team.roles_changed", obj=team,
            data={"user": user.username, "added": sorted(added), "removed": sorted(removed)},
        )  # fmt: skip
    return True


def team_member_remove(*, team: Team, user, actor) -> None:
    """Take ``user`` out of ``team``: they no longer see its models nor hold roles within it."""
    _may_manage(actor)
    with transaction.atomic():
        team = _lock(team)
        if not team.group.user_set.filter(pk=user.pk).exists():
            raise ValidationError({"user": f"{user.username} is not a member of {team.name}."})
        roles = sorted(TeamRole.objects.filter(team=team, user=user).values_list("role__name", flat=True))
        TeamRole.objects.filter(team=team, user=user).delete()
        team.group.user_set.remove(user)
        announce(actor=actor, verb="team.member_removed", obj=team, data={"user": user.username, "roles": roles})
