"""Property-based testing of every API operation against the live OpenAPI schema (schemathesis):
no input produces a server error, and every documented response matches its schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.services import api_token_create
from config.wsgi import application
from tests import factories

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Requests go through the WSGI application in this process, inside the test's transaction;
    Django closes connections at each request's end unless told not to (as its test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(people, risk_model):
    """Dana's token; her team's model has a version, so paths that exist are reachable too."""
    factories.make_version(model=risk_model, by=people.dana)
    return api_token_create(user=people.dana, name="schemathesis")[1]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_errs_and_keeps_to_its_schema(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
