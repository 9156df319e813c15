"""The four roles of the default workflow. Each role is a Django group of the same name."""

from collections.abc import Sequence

DATA_SCIENTIST = "data scientist"
MANAGER = "manager"
DATA_ANALYST = "data analyst"
IT_ENGINEER = "IT engineer"

ALL_ROLES = (DATA_SCIENTIST, MANAGER, DATA_ANALYST, IT_ENGINEER)


def _groups(user) -> dict[str, int]:
    """The user's groups, name to id, read once and cached on the user object for the request."""
    if not user.is_authenticated:
        return {}
    cached = getattr(user, "_signoff_groups", None)
    if cached is None:
        cached = dict(user.groups.values_list("name", "id"))
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


def stand_in(*, pk: int, group_ids: Sequence[int], roles: Sequence[str | None], is_superuser: bool = False):
    """An active user who is not read from the database: this id, these groups (their roles as
    ``group_roles`` gives them). For building a query once from stand-in values (``config.prepared``)."""
    from django.contrib.auth import get_user_model

    user = get_user_model()(pk=pk, is_active=True, is_superuser=is_superuser)
    user._signoff_groups = {
        role or f"team {index}": group_id for index, (role, group_id) in enumerate(zip(roles, group_ids, strict=True))
    }
    return user
