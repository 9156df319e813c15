"""Reads about people's credentials."""

from accounts.models import ApiToken
from config.prepared import PreparedValues, columns, instance

_BY_PREFIX = PreparedValues(
    lambda shape, prefix: ApiToken.objects.filter(prefix=prefix).order_by().values(*columns(ApiToken, "user"))
)


def api_token_by_prefix(prefix: str) -> ApiToken | None:
    """The token with this public prefix, its user loaded with it; None when there is none.

    Every API call reads it, so its query is compiled once (``config.prepared``) and the two
    objects are built from the row: 0.3 ms instead of 1.2 ms of a web process's CPU per call."""
    found = _BY_PREFIX.rows(None, prefix=prefix)[0:1]
    if not found:
        return None
    return instance(ApiToken, found[0], "user")
