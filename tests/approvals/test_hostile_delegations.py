"""Hostile input on the delegation form (10**400 ids, paths, NUL, non-finite dates, 1 MB text):
each is a 4xx that writes nothing."""

import pytest

from approvals.models import Delegation


@pytest.mark.parametrize(
    "data",
    [
        {"delegate": "1" + "0" * 400, "starts_at": "2026-01-01T09:00", "ends_at": "2099-01-01T09:00", "reason": "x"},
        {
            "delegate": "2",
            "models": "1" + "0" * 400,
            "starts_at": "2026-01-01T09:00",
            "ends_at": "2099-01-01T09:00",
            "reason": "x",
        },
        {
            "delegate": "2",
            "roles": "../1",
            "starts_at": "2026-01-01T09:00",
            "ends_at": "2099-01-01T09:00",
            "reason": "x",
        },
        {"delegate": "2", "starts_at": "1e400", "ends_at": "2099-01-01T09:00\x00", "reason": "x"},
        {"delegate": "2", "starts_at": "2026-01-01T09:00", "ends_at": "2099-01-01T09:00", "reason": "y" * 1_000_000},
    ],
)
def test_a_hostile_delegation_form_is_refused_and_writes_nothing(client, people, data):
    client.force_login(people.mona)
    r = client.post("/delegations/new/", data)
    assert 400 <= r.status_code < 500, r.status_code
    assert not Delegation.objects.exists()
