"""The four roles of the default workflow. Each role is a Django group of the same name."""

from collections.abc import Sequence

from config.prepared import PreparedValues

DATA_SCIENTIST = "data scientist"
MANAGER = "manager"
DATA_ANALYST = "data analyst"
IT_ENGINEER = "IT engineer"

ALL_ROLES = (DATA_SCIENTIST, MANAGER, DATA_ANALYST, IT_ENGINEER)


def _groups_of(shape, *, user_id):
    from django.contrib.auth.models import Group

    return Group.objects.filter(user=user_id).order_by().values("name", "id")


_GROUPS = PreparedValues(_groups_of)


def _groups(user) -> dict[str, int]:
    """The user's groups, name to id, read once and cached on the user object for the request
    (from kept SQL: nearly every request asks)."""
    if not user.is_authenticated:
        return {}
    cached = getattr(user, "_signoff_groups", None)
    if cached is None:
        cached = {row["name"]: row["id"] for row in _GROUPS.rows(None, user_id=user.pk).all()}
        user._signoff_groups = cached
    return cached


def role_names(user) -> set[str]:
    """Names of the groups the user belongs to (roles and teams)."""
    return set(_groups(user))


def group_ids(user) -> list[int]:
    """Ids of the groups the user belongs to: a literal list for queries, instead of a join per row."""
    return sorted(_groups(user).values())


def has_role(user, role: str) -> bool:
    return role in role_names(user)


def group_roles(user) -> tuple[str | None, ...]:
    """For each of the user's groups in id order (``group_ids``), its role, or None for a team:
    what a query built from the user's groups depends on beyond the ids themselves."""
    by_id = sorted(_groups(user).items(), key=lambda item: item[1])
    return tuple(name if name in ALL_ROLES else None for name, _ in by_id)


def prepared_for(user) -> tuple[tuple, dict]:
    """What a query compiled once per shape of user (``config.prepared``) is keyed and filled by:
    the shape (active or not, superuser or not, the role of each group in id order) and the
    values (the user's id and group ids). ``stand_in`` turns them back into a user."""
    shape = (user.is_authenticated and user.is_active, user.is_superuser, group_roles(user))
    return shape, {"user_id": user.pk, "group_ids": group_ids(user)}


def stand_in(shape: tuple, *, user_id: int | None, group_ids: Sequence[int]):
    """A user who is not read from the database, with the shape and values ``prepared_for``
    gave (the values may be stand-ins): for building a query once per shape."""
    from django.contrib.auth import get_user_model

    is_active, is_superuser, roles = shape
    user = get_user_model()(pk=user_id, is_active=is_active, is_superuser=is_superuser)
    user._signoff_groups = {
        role or f"team {index}": group_id for index, (role, group_id) in enumerate(zip(roles, group_ids, strict=True))
    }
    return user
