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


def remember_groups(users) -> None:
    """Read the groups of many users in one query and cache them on each (as ``_groups`` would
    one by one): for questions asked about several people at once, e.g. e-mail recipients."""
    from django.contrib.auth.models import Group

    found = {user.pk: {} for user in users}
    for user_id, name, group_id in Group.objects.filter(user__in=list(found)).values_list("user", "name", "id"):
        found[user_id][name] = group_id
    for user in users:
        user._signoff_groups = found[user.pk]


def role_names(user) -> set[str]:
    """Names of the groups the user belongs to (roles and teams)."""
    return set(_groups(user))


def group_ids(user) -> list[int]:
    """Ids of the groups the user belongs to: a literal list for queries, instead of a join per row."""
    return sorted(_groups(user).values())


def has_role(user, role: str) -> bool:
    return role in role_names(user)
