"""What an API token may do: the one check of token scopes (``accounts.models.Scope``).

Reading needs ``read``; every other call needs the view's ``token_scope`` (``register`` unless
the view says otherwise). A page's session is its person and is not limited; only tokens are.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.models import ApiToken, Scope


def token_allows(request, scope: str) -> bool:
    """Whether the request's credentials allow ``scope`` (a session always does)."""
    token = getattr(request, "auth", None)
    return not isinstance(token, ApiToken) or scope in token.scopes


class TokenScope(BasePermission):
    """DRF permission: the token's scopes cover what the call does."""

    message = "This API token may not do that; create one with the scope it needs on your profile page."

    def has_permission(self, request, view):
        scope = Scope.READ if request.method in SAFE_METHODS else getattr(view, "token_scope", Scope.REGISTER)
        if token_allows(request, scope):
            return True
        self.message = f"This API token lacks the '{scope}' scope; create one with it on your profile page."
        return False
