"""API tokens: hashed at rest, shown once, named, expiring, revocable, audited (finding 5)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke
from audit.models import AuditEvent


def authorised(client, key):
    return client.get("/api/models/", HTTP_AUTHORIZATION=f"Token {key}").status_code


def test_the_key_is_shown_once_and_never_stored(client, people):
    client.force_login(people.dana)
    response = client.post("/profile/tokens/", {"name": "CI pipeline", "days": 30})
    key = response.context["new_key"]
    assert response.status_code == 201 and key in response.content.decode()

    assert key not in client.get("/profile/").content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        assert key not in repr(cursor.fetchall())
    token = ApiToken.objects.get()
    assert (token.name, token.user) == ("CI pipeline", people.dana)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert authorised(client, key) == 200


def test_tokens_expire_by_default_after_ninety_days(people):
    token, _ = api_token_create(user=people.dana, name="default")
    assert timedelta(days=89) < token.expires_at - timezone.now() <= timedelta(days=90)


def test_an_expired_or_revoked_or_forged_token_is_refused(client, people):
    expired, expired_key = api_token_create(user=people.dana, name="old", days=1)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked, revoked_key = api_token_create(user=people.dana, name="revoked")
    api_token_revoke(token=revoked, actor=people.dana)
    _, good_key = api_token_create(user=people.dana, name="good")

    assert authorised(client, expired_key) == 401
    assert authorised(client, revoked_key) == 401
    assert authorised(client, good_key[:-1] + ("A" if good_key[-1] != "A" else "B")) == 401
    assert authorised(client, good_key) == 200
    assert ApiToken.objects.get(name="good").last_used_at is not None


def test_several_tokens_per_user_each_revocable_from_the_profile(client, people):
    client.force_login(people.dana)
    first = client.post("/profile/tokens/", {"name": "laptop", "days": 90}).context["new_key"]
    second = client.post("/profile/tokens/", {"name": "CI", "days": 90}).context["new_key"]
    token = ApiToken.objects.get(name="laptop")

    assert client.post(f"/profile/tokens/{token.pk}/revoke/").status_code == 302
    assert authorised(client, first) == 401
    assert authorised(client, second) == 200


def test_nobody_revokes_or_sees_someone_elses_token(client, people):
    token, key = api_token_create(user=people.mona, name="mona's")
    client.force_login(people.dana)
    assert client.post(f"/profile/tokens/{token.pk}/revoke/").status_code == 404
    assert key not in client.get("/profile/").content.decode()
    assert authorised(client, key) == 200


def test_the_admin_never_shows_a_usable_key(client, people):
    root = people.dana.__class__.objects.create_superuser("root", "root@example.com", "pw-root-123")
    token, key = api_token_create(user=people.mona, name="mona's")
    client.force_login(root)
    for url in ("/admin/accounts/apitoken/", f"/admin/accounts/apitoken/{token.pk}/change/"):
        page = client.get(url).content.decode()
        assert key not in page and token.digest not in page
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403


@pytest.mark.parametrize("data", [{"name": "", "days": 30}, {"name": "x", "days": 0}, {"name": "x", "days": 5000}])
def test_a_bad_token_request_is_refused(client, people, data):
    client.force_login(people.dana)
    assert client.post("/profile/tokens/", data).status_code == 400
    assert not ApiToken.objects.exists()


def test_token_creation_and_revocation_are_audited(people):
    token, _ = api_token_create(user=people.dana, name="CI")
    api_token_revoke(token=token, actor=people.dana)
    verbs = list(
        AuditEvent.objects.filter(object_type="apitoken").order_by("pk").values_list("verb", "actor__username")
    )
    assert verbs == [("token.created", "dana"), ("token.revoked", "dana")]


def test_a_token_is_read_with_its_whole_user(people):
    """API calls read the token and its user from one kept query: both must be the rows as
    stored, field for field, and each user must get their own."""
    from accounts.selectors import api_token_by_prefix

    def fields(row):
        return {field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields}

    people.mona.is_superuser = True
    people.mona.save()
    for user in (people.dana, people.mona):
        created, key = api_token_create(user=user, name="cli")
        token = api_token_by_prefix(key.split("_")[1])
        stored = ApiToken.objects.select_related("user").get(pk=created.pk)
        assert fields(token) == fields(stored) and fields(token.user) == fields(stored.user)
        assert token.user.pk == user.pk and token.user.is_superuser == (user == people.mona)
        assert not token._state.adding and token.user.groups.filter(name="team Risk").exists()
    assert api_token_by_prefix("nosuchpx") is None


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("so_ab\x00defgh_" + "x" * 43, 400),  # NUL: the header is refused before anything reads it
        ("so_abc\ud800efg_" + "x" * 43, 400),  # a lone surrogate
        ("so_ABCDEFGH_" + "x" * 43, 401),  # not a prefix Signoff makes
        ("so_../../.._" + "x" * 43, 401),
        ("so_abcdefgh_" + "x" * 10**6, 401),
    ],
)
def test_a_hostile_key_is_refused_and_changes_nothing(client, people, key, status):
    before = ApiToken.objects.count(), AuditEvent.objects.count()
    response = client.get("/api/models/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == status
    if status == 400:
        assert "Authorization header contains" in response.json()["detail"]
    assert (ApiToken.objects.count(), AuditEvent.objects.count()) == before


def token_client(user, scopes=None):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, name='ci', scopes=scopes)[1]}")
    return client


def test_a_default_token_reads_registers_and_submits_but_never_decides(people, awaiting_manager):
    from approvals.models import Decision

    client = token_client(people.mona)  # a manager's CI token, default scopes
    assert client.get(f"/api/requests/{awaiting_manager.pk}/").status_code == 200
    response = client.post(f"/api/requests/{awaiting_manager.pk}/decisions/", {"decision": "approve"}, format="json")
    assert response.status_code == 403 and "'decide' scope" in response.json()["detail"]
    assert not Decision.objects.exists()
    rollback = token_client(people.ivan).post("/api/models/credit-risk/rollback/", {"comment": "x"}, format="json")
    assert rollback.status_code == 403 and "'deploy' scope" in rollback.json()["detail"]


def test_a_read_only_token_registers_nothing(people, risk_model):
    client = token_client(people.dana, scopes=["read"])
    response = client.post("/api/models/", {"name": "other", "team": "risk"}, format="json")
    assert response.status_code == 403 and "'register' scope" in response.json()["detail"]
    assert client.get("/api/models/").status_code == 200


def test_a_deciding_token_without_deploy_does_not_deploy(people, awaiting_manager, background):
    from approvals import services

    for actor in (people.mona, people.quinn):
        awaiting_manager.refresh_from_db()
        with background():
            services.step_decide(request=awaiting_manager, actor=actor, verdict="approve", comment="ok")
    client = token_client(people.ivan, scopes=["read", "decide"])
    response = client.post(f"/api/requests/{awaiting_manager.pk}/decisions/", {"decision": "approve"}, format="json")
    assert response.status_code == 403 and "'deploy' scope" in response.json()["detail"]
    deployer = token_client(people.ivan, scopes=["read", "decide", "deploy"])
    response = deployer.post(f"/api/requests/{awaiting_manager.pk}/decisions/", {"decision": "approve"}, format="json")
    assert response.status_code == 201, response.content


def test_scopes_are_validated_and_shown_on_the_profile(client, people):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="scopes"):
        api_token_create(user=people.dana, name="bad", scopes=["root"])
    client.force_login(people.dana)
    response = client.post("/profile/tokens/", {"name": "pipeline", "days": 30, "scopes": ["read", "submit"]})
    assert response.status_code == 201
    page = client.get("/profile/").content.decode()
    assert "read, submit" in page
