"""Every change to who someone is and what they may do is audited, wherever it is made; a
password someone else set signs no decision until its owner changes it (issue 14, finding 5)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from approvals import permissions, selectors, services
from audit.models import AuditEvent
from audit.services import audit_chain_first_break
from registry.roles import MANAGER
from tests import factories

User = get_user_model()


@pytest.fixture
def admin_user(db):
    return factories.make_user("root", is_superuser=True, is_staff=True)


def events(verb, user):
    return AuditEvent.objects.filter(verb=verb, object_type="user", object_id=str(user.pk))


def test_a_superuser_creating_accounts_in_the_admin_is_audited_by_name(client, people, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/auth/user/add/",
        {"username": "newbie", "password1": "A-long-pass-phrase-9", "password2": "A-long-pass-phrase-9",
         "usable_password": "true"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    newbie = User.objects.get(username="newbie")
    created = events("user.created", newbie).get()
    assert created.actor == admin_user and created.data["password_set"] is True


def test_role_changes_and_superuser_grants_are_audited_from_either_side(people, admin_user):
    managers = Group.objects.get(name=MANAGER)
    before = AuditEvent.objects.order_by("pk").last().pk
    people.nora.groups.add(managers)
    managers.user_set.remove(people.nora)
    people.nora.is_superuser = True
    people.nora.save()

    changes = [event.data for event in events("user.groups_changed", people.nora).filter(pk__gt=before).order_by("pk")]
    assert changes == [{"added": [MANAGER]}, {"removed": [MANAGER]}]
    assert events("user.changed", people.nora).get().data == {"changes": {"is_superuser": [False, True]}}
    assert audit_chain_first_break() is None


def test_an_admin_setting_a_colleagues_password_takes_away_her_decisions(client, people, admin_user, awaiting_manager):
    client.force_login(admin_user)
    response = client.post(
        f"/admin/auth/user/{people.mona.pk}/password/",
        {"password1": "Known-to-root-42x", "password2": "Known-to-root-42x", "usable_password": "true"},
    )
    assert response.status_code == 302
    event = events("user.password_set", people.mona).get()
    assert event.actor == admin_user and event.data == {"by_owner": False}

    people.mona.refresh_from_db()
    step = awaiting_manager.current_step
    assert "password was set by someone else" in permissions.refusal(people.mona, permissions.DECIDE, step)
    assert not selectors.request_list(user=people.mona, awaiting_me=True).exists()
    assert people.mona not in permissions.users_who_can(permissions.DECIDE, step)

    # Mona chooses her own; she may decide again.
    client.force_login(people.mona)
    assert "Until you" in client.get("/profile/").content.decode()
    response = client.post(
        "/profile/password/",
        {
            "old_password": "Known-to-root-42x",
            "new_password1": "Only-mona-knows-7",
            "new_password2": "Only-mona-knows-7",
        },
    )
    assert response.status_code == 302
    assert events("user.password_set", people.mona).latest("pk").data == {"by_owner": True}
    people.mona.refresh_from_db()
    assert permissions.refusal(people.mona, permissions.DECIDE, step) is None
    services.step_decide(request=awaiting_manager, actor=people.mona, verdict="approve", comment="ok")
