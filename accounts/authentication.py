"""DRF authentication with personal API tokens (``Authorization: Token <key>``)."""

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accounts.services import api_token_authenticate


class ApiTokenAuthentication(TokenAuthentication):
    """Hashed, expiring, revocable tokens; an unknown, expired or revoked key is refused alike."""

    def authenticate_credentials(self, key):
        token = api_token_authenticate(key)
        if token is None:
            raise AuthenticationFailed("Invalid, expired or revoked token.")
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return token.user, token
