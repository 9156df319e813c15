"""Reads about people's credentials."""

from django.contrib.auth import get_user_model

from accounts.models import ApiToken
from config.prepared import PreparedValues

_TOKEN_FIELDS = tuple(field.attname for field in ApiToken._meta.concrete_fields)
_USER_FIELDS = tuple(field.attname for field in get_user_model()._meta.concrete_fields)
_BY_PREFIX = PreparedValues(
    lambda shape, prefix: (
        ApiToken.objects.filter(prefix=prefix)
        .order_by()
        .values(*_TOKEN_FIELDS, *(f"user__{name}" for name in _USER_FIELDS))
    )
)


def api_token_by_prefix(prefix: str) -> ApiToken | None:
    """The token with this public prefix, its user loaded with it; None when there is none.

    Every API call reads it, so its query is compiled once (``config.prepared``) and the two
    objects are built from the row: 0.3 ms instead of 1.2 ms of a web process's CPU per call."""
    found = _BY_PREFIX.rows(None, prefix=prefix)[0:1]
    if not found:
        return None
    row = found[0]
    token = ApiToken.from_db(ApiToken.objects.db, _TOKEN_FIELDS, [row[name] for name in _TOKEN_FIELDS])
    token.user = get_user_model().from_db(
        ApiToken.objects.db, _USER_FIELDS, [row[f"user__{name}"] for name in _USER_FIELDS]
    )
    return token
