"""Every write leaves an audit event (finding 8), and a team change moves access (finding 9)."""

from audit.models import AuditEvent
from registry import permissions
from registry.models import RegisteredModel
from tests import factories


def verbs():
    # Accounts are audited too (tests/security/test_identity_audit.py); here, what the rest writes.
    # The test database's workflows were saved before the test (tests/conftest.py).
    events = AuditEvent.objects.exclude(verb__startswith="user.").exclude(verb__startswith="workflow.")
    return list(events.order_by("pk").values_list("verb", "actor__username"))


def test_registering_a_model_and_a_version_is_audited(people):
    model = factories.make_model(team=people.risk, by=people.dana, name="fraud")
    factories.make_version(model=model, by=people.dana)
    assert verbs() == [("model.registered", "dana"), ("version.registered", "dana")]


def test_moving_a_model_to_another_team_in_the_admin_moves_access_audited(client, people, risk_model):
    root = factories.make_user("root", is_superuser=True, is_staff=True)
    client.force_login(root)
    response = client.post(f"/admin/registry/registeredmodel/{risk_model.pk}/change/", {"team": people.growth.pk})
    assert response.status_code == 302

    assert permissions.can(people.gina, permissions.VIEW, risk_model)
    assert not permissions.can(people.dana, permissions.VIEW, risk_model)
    event = AuditEvent.objects.get(verb="model.team_changed")
    assert (event.actor, event.data) == (root, {"from_team": "risk", "to_team": "growth"})


def test_the_admin_grants_only_access_and_says_what_it_allows(client, people, risk_model):
    root = factories.make_user("root", is_superuser=True, is_staff=True)
    client.force_login(root)
    url = f"/admin/registry/registeredmodel/{risk_model.pk}/permissions/user-manage/{people.gary.pk}/"
    page = client.get(url).content.decode()
    assert "Access: see the model" in page
    assert "change_registeredmodel" not in page and "delete_registeredmodel" not in page

    assert client.post(url, {"permissions": ["view_registeredmodel"]}).status_code == 302
    assert permissions.can(people.gary, permissions.VIEW, risk_model)
    assert client.post(url, {"permissions": ["delete_registeredmodel"]}).status_code == 200  # not a choice
    # A browser always sends the CSRF token; guardian ignores a POST without any field.
    client.post(url, {"permissions": [], "csrfmiddlewaretoken": "x"})
    assert not permissions.can(people.gary, permissions.VIEW, RegisteredModel.objects.get(pk=risk_model.pk))
    granted = AuditEvent.objects.filter(verb__startswith="model.access").order_by("pk")
    assert [(e.verb, e.data["grantee"]) for e in granted] == [
        ("model.access_granted", "gary"),
        ("model.access_revoked", "gary"),
    ]
