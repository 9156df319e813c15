import pytest
from rest_framework.test import APIClient

from accounts.services import api_token_create


@pytest.fixture
def api():
    """``api(user)``: an API client authenticated with the user's token."""

    def client_for(user=None):
        client = APIClient()
        if user is not None:
            _, key = api_token_create(user=user, name="tests")
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return client_for
