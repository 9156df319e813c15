"""Reads about people's credentials."""

from accounts.models import ApiToken


def api_token_by_prefix(prefix: str) -> ApiToken | None:
    """The token with this public prefix, its user loaded with it; None when there is none."""
    return ApiToken.objects.select_related("user").filter(prefix=prefix).first()
