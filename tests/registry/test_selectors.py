"""Reading one version: one query for the version, its author and its model's team, scoped to
the models the reader may see; a refusal says only what the reader may know."""

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from registry import selectors
from tests import factories


def test_a_version_is_read_with_its_model_team_and_authors_in_one_query(people, risk_model):
    factories.make_version(model=risk_model, by=people.dana)
    dana = type(people.dana).objects.get(pk=people.dana.pk)
    selectors.version_get(user=dana, name="credit-risk", number=1)  # her groups are read once per user object
    with CaptureQueriesContext(connection) as queries:
        version = selectors.version_get(user=dana, name="credit-risk", number=1)
        seen = (version.number, version.model.name, version.model.team.name, version.model.created_by.username)
        author = version.created_by.username
    assert (seen, author) == ((1, "credit-risk", "Risk", "dana"), "dana")
    assert len(queries) == 1


def test_someone_without_access_is_told_the_model_does_not_exist(people, risk_model, growth_model):
    factories.make_version(model=risk_model, by=people.dana)
    with pytest.raises(Http404, match="No model called 'credit-risk'"):
        selectors.version_get(user=people.gina, name="credit-risk", number=1)  # Growth's data scientist


def test_a_missing_version_of_a_visible_model_is_named(people, risk_model):
    factories.make_version(model=risk_model, by=people.dana)
    with pytest.raises(Http404, match="credit-risk has no version 2"):
        selectors.version_get(user=people.dana, name="credit-risk", number=2)
    with pytest.raises(Http404, match="No model called 'no-such-model'"):
        selectors.version_get(user=people.dana, name="no-such-model", number=1)


def test_a_superuser_reads_any_version(people, risk_model):
    factories.make_version(model=risk_model, by=people.dana)
    admin = factories.make_user("ada", is_superuser=True, is_staff=True)
    assert selectors.version_get(user=admin, name="credit-risk", number=1).model == risk_model


@pytest.mark.parametrize("number", [2**31, 2**63, 10**400])
def test_a_version_number_too_large_for_the_column_is_not_found(people, risk_model, api, client, number):
    factories.make_version(model=risk_model, by=people.dana)
    response = api(people.dana).get(f"/api/models/credit-risk/versions/{number}/")
    assert response.status_code == 404
    assert response.json()["detail"] == f"credit-risk has no version {number}."
    client.force_login(people.dana)
    assert client.get(f"/models/credit-risk/versions/{number}/").status_code == 404
