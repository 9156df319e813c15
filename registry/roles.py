"""The four roles of the default workflow. Each role is a Django group of the same name."""

DATA_SCIENTIST = "data scientist"
MANAGER = "manager"
DATA_ANALYST = "data analyst"
IT_ENGINEER = "IT engineer"

ALL_ROLES = (DATA_SCIENTIST, MANAGER, DATA_ANALYST, IT_ENGINEER)
# A role some organisations' workflows add (the demo's high-risk workflow): a group like the others.
RISK_OFFICER = "risk officer"


def _groups(user) -> dict[str, int]:
    """The user's groups, name to id, read once and cached on the user object for the request
    (nearly every permission question asks)."""
    from django.contrib.auth.models import Group

    if not user.is_authenticated:
        return {}
    cached = getattr(user, "_signoff_groups", None)
    if cached is None:
        cached = dict(Group.objects.filter(user=user.pk).order_by().values_list("name", "id"))
        user._signoff_groups = cached
    return cached


def _team_roles(user) -> dict[int, dict[str, int]]:
    """The roles the user holds within single teams: team id → {role name: role id}, read once
    and cached on the user object like ``_groups``, together with the groups (one query either
    way; a question about team roles asks about groups too)."""
    if not user.is_authenticated:
        return {}
    if getattr(user, "_signoff_team_roles", None) is None:
        remember_groups([user])
    return user._signoff_team_roles


def remember_groups(users) -> None:
    """Read the groups and the team roles of ``users`` (one or many: e-mail recipients, say) in
    one query, and cache both on each for ``_groups`` and ``_team_roles`` (what is cached on a
    user already stays: one answer per person for the whole request)."""
    from django.contrib.auth.models import Group
    from django.db.models import IntegerField, Value

    from registry.models import TeamRole

    ids = [user.pk for user in users]
    found, in_teams = {pk: {} for pk in ids}, {pk: {} for pk in ids}
    # (user, team, role name, role id): a group held everywhere has no team
    everywhere = Group.objects.filter(user__in=ids).annotate(within=Value(None, output_field=IntegerField()))
    within = TeamRole.objects.filter(user__in=ids).values_list("user_id", "team_id", "role__name", "role_id")
    rows = everywhere.values_list("user", "within", "name", "id").order_by().union(within.order_by(), all=True)
    for user_id, team_id, name, group_id in rows:
        if team_id is None:
            found[user_id][name] = group_id
        else:
            in_teams[user_id].setdefault(team_id, {})[name] = group_id
    for user in users:
        if getattr(user, "_signoff_groups", None) is None:
            user._signoff_groups = found[user.pk]
        if getattr(user, "_signoff_team_roles", None) is None:
            user._signoff_team_roles = in_teams[user.pk]


def roles_in(user, team_id: int | None) -> set[str]:
    """The roles the user holds for the models of team ``team_id``: those held for every team,
    and those held within that one."""
    within = set(_team_roles(user).get(team_id, {}))  # first: it reads the groups with them
    return role_names(user) | within


def has_role_in(user, role: str, team_id: int | None) -> bool:
    return role in roles_in(user, team_id)


def teams_where(user, role: str) -> list[int]:
    """Ids of the teams within which the user holds ``role`` (besides holding it everywhere)."""
    return sorted(team_id for team_id, roles in _team_roles(user).items() if role in roles)


def team_role_ids(user) -> dict[int, list[int]]:
    """Team id → ids of the roles the user holds within that team: literal lists for queries."""
    return {team_id: sorted(roles.values()) for team_id, roles in _team_roles(user).items()}


def holders(roles, team_id: int | None):
    """A filter on users: who holds one of ``roles`` (names, or a queryset of role groups) for the
    models of team ``team_id``, everywhere or within that team."""
    from django.db.models import Q, QuerySet

    from registry.models import TeamRole

    if isinstance(roles, QuerySet):
        everywhere, within = Q(groups__in=roles), TeamRole.objects.filter(team_id=team_id, role__in=roles)
    else:
        everywhere = Q(groups__name__in=list(roles))
        within = TeamRole.objects.filter(team_id=team_id, role__name__in=list(roles))
    return everywhere | Q(pk__in=within.values("user_id"))


def role_names(user) -> set[str]:
    """Names of the groups the user belongs to (roles and teams)."""
    return set(_groups(user))


def group_ids(user) -> list[int]:
    """Ids of the groups the user belongs to: a literal list for queries, instead of a join per row."""
    return sorted(_groups(user).values())


def has_role(user, role: str) -> bool:
    return role in role_names(user)
