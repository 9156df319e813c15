"""Brute force: repeated wrong passwords lock the account out for a while, audited; the API
throttles (finding 10)."""

import pytest
from django.core.cache import cache

from audit.models import AuditEvent
from config.cache import RedisCache
from tests.factories import PASSWORD


def test_after_too_many_wrong_passwords_even_the_right_one_is_refused(client, people):
    for attempt in range(100):
        response = client.post("/login/", {"username": "mona", "password": f"guess-{attempt}"})
        if response.status_code == 429:
            break
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()

    response = client.post("/login/", {"username": "mona", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    lockout = AuditEvent.objects.get(verb="login.locked_out")
    assert lockout.data["username"] == "mona" and lockout.object_id == str(people.mona.pk)


def test_the_right_password_logs_in_before_the_limit(client, people):
    for attempt in range(3):
        client.post("/login/", {"username": "mona", "password": f"guess-{attempt}"})
    response = client.post("/login/", {"username": "mona", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(people.mona.pk)


REDIS_CACHE = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/12"}}


@pytest.mark.parametrize("caches", [None, pytest.param(REDIS_CACHE, marks=pytest.mark.redis)], ids=["local", "redis"])
def test_the_api_throttles_a_client_that_calls_too_often(people, api, settings, caches):
    """With Redis (production's cache) the count is shared: two web processes see one history."""
    if caches:
        settings.CACHES = caches
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "5/min", "user": "5/min"}}
    from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

    cache.clear()
    original = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = SimpleRateThrottle.THROTTLE_RATES = {"anon": "5/min", "user": "5/min"}
    try:
        client = api(people.mona)
        statuses = [client.get("/api/models/").status_code for _ in range(7)]
        if caches:  # what another web process, with its own cache object, reads
            other = RedisCache(caches["default"]["LOCATION"], {})
            history = other.get(f"throttle_user_{people.mona.pk}")
    finally:
        UserRateThrottle.THROTTLE_RATES = SimpleRateThrottle.THROTTLE_RATES = original
        cache.clear()
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429, 429]
    if caches:
        assert len(history) == 5


def guess_until_locked(client, **headers) -> int:
    for attempt in range(20):
        response = client.post("/login/", {"username": "mona", "password": f"guess-{attempt}"}, **headers)
        if response.status_code == 429:
            return attempt
    return -1


def test_made_up_forwarded_addresses_do_not_escape_the_lockout(client, people):
    """With no trusted proxy, X-Forwarded-For is the client's word and counts for nothing."""
    for attempt in range(20):
        response = client.post(
            "/login/", {"username": "mona", "password": f"guess-{attempt}"}, HTTP_X_FORWARDED_FOR=f"10.9.0.{attempt}"
        )
        if response.status_code == 429:
            break
    assert response.status_code == 429
    assert AuditEvent.objects.get(verb="login.locked_out").data["ip_address"] == "127.0.0.1"


def test_behind_a_trusted_proxy_the_lockout_keys_on_the_address_it_forwards(client, people, settings):
    settings.SIGNOFF_TRUSTED_PROXIES = ["127.0.0.1"]
    # The proxy appends the address it saw; what the client claimed further left is ignored.
    assert guess_until_locked(client, HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7") >= 0
    assert AuditEvent.objects.get(verb="login.locked_out").data["ip_address"] == "198.51.100.7"
    # Another client behind the same proxy is not locked out.
    response = client.post("/login/", {"username": "mona", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert response.status_code == 302
