"""The four roles of the default workflow. Each role is a Django group of the same name."""

DATA_SCIENTIST = "data scientist"
MANAGER = "manager"
DATA_ANALYST = "data analyst"
IT_ENGINEER = "IT engineer"

ALL_ROLES = (DATA_SCIENTIST, MANAGER, DATA_ANALYST, IT_ENGINEER)


def role_names(user) -> set[str]:
    """Names of the groups the user belongs to, cached on the user object for the request."""
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_signoff_group_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._signoff_group_names = cached
    return cached


def has_role(user, role: str) -> bool:
    return role in role_names(user)
