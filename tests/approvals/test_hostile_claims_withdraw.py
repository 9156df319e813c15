"""Hostile bodies on the claim, release and withdraw endpoints: a lone surrogate, NUL, 1e400,
10**400, deep nesting, 1 MB strings. Each is a 4xx and nothing is written."""

import pytest

BODIES = [
    '{"step": "\\ud800"}',
    '{"step": "a\\u0000b"}',
    '{"step": 1e400}',
    '{"step": ' + "1" + "0" * 400 + "}",
    '{"step": ' + "[" * 50 + "]" * 50 + "}",
    '{"reason": "\\ud800"}',
    '{"reason": "x\\u0000"}',
    '{"reason": ' + "[" * 50 + "]" * 50 + "}",
    '{"step": "' + "a" * 1_000_000 + '"}',
]


@pytest.mark.parametrize("action", ["claim", "release", "withdraw"])
@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_a_hostile_body_is_refused_and_changes_nothing(people, awaiting_manager, api, action, body):
    who = people.dana if action == "withdraw" else people.mona
    r = api(who).post(f"/api/requests/{awaiting_manager.pk}/{action}/", body, content_type="application/json")
    assert 400 <= r.status_code < 500, (r.status_code, r.content[:300])
    awaiting_manager.refresh_from_db()
    assert awaiting_manager.status == "awaiting_review"
    assert awaiting_manager.steps.get(name="manager_review").claimed_by is None
