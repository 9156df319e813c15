"""How an audit event names its object: as people read it, without reading rows the caller holds."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.services import audit_record
from registry.models import ModelVersion
from tests import factories


def test_a_version_is_named_with_the_model_the_caller_passed_without_reading_it_again(people, risk_model):
    made = factories.make_version(model=risk_model, by=people.dana)
    version = ModelVersion.objects.get(pk=made.pk)  # its model not loaded

    with CaptureQueriesContext(connection) as queries:
        event = audit_record(actor=people.dana, verb="version.stage_changed", obj=version, model=risk_model)

    assert event.object_repr == "credit-risk v1"
    assert not [query for query in queries if "registry_registeredmodel" in query["sql"]]


def test_a_request_is_named_by_its_model_and_version_number(awaiting_manager):
    assert str(awaiting_manager) == f"Request #{awaiting_manager.pk}: credit-risk v{awaiting_manager.version.number}"
