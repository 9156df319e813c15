"""On PostgreSQL, a statement a connection runs again is prepared on the server, so PostgreSQL
plans it a few times rather than at every run (``SIGNOFF_DB_PREPARED_STATEMENTS``, on by
default); off, nothing is prepared (for poolers in transaction mode)."""

import pytest
from django.db import connection

from approvals.models import PromotionRequest
from tests.security.test_safe_defaults import setting

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

POSTGRES = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/signoff"}


def prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_run_again_is_prepared_with_its_values_bound_on_the_server(people):
    def read(pk):
        return list(PromotionRequest.objects.filter(pk=pk, status="awaiting_review").values_list("pk", flat=True))

    for pk in range(3):  # the same statement, different values
        read(pk)
    mine = [text for text in prepared() if '"approvals_promotionrequest"."status" = $2' in text]
    assert len(mine) == 1, prepared()


def test_prepared_statements_can_be_switched_off():
    assert setting("DATABASES['default']['OPTIONS']", **POSTGRES) == (
        "{'server_side_binding': True, 'prepare_threshold': 2}"
    )
    assert setting("DATABASES['default']['OPTIONS']", SIGNOFF_DB_PREPARED_STATEMENTS="0", **POSTGRES) == "{}"
