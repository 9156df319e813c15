"""Roles per team: "manager of Risk only" decides Risk's models and no other team's, even one
whose model they were granted; the team page adds people with a picker, sets what they do there,
takes them out and gives another team a model in one action; every change is audited and only
administrators make it."""

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import PermissionDenied

from approvals import permissions, services
from audit.models import AuditEvent
from registry import permissions as registry_permissions
from registry import teams
from registry.models import TeamRole
from registry.roles import DATA_SCIENTIST, MANAGER
from tests import factories


@pytest.fixture
def admin(people):
    return factories.make_user("ada", is_superuser=True, is_staff=True)


@pytest.fixture
def rita(people, admin):
    """A manager of Risk only (no manager role everywhere), who was also granted churn (Growth)."""
    rita = factories.make_user("rita")
    teams.team_member_add(team=people.risk, user=rita, roles=[Group.objects.get(name=MANAGER)], actor=admin)
    return rita


def test_a_manager_of_one_team_decides_that_teams_models_only(
    rita, people, risk_model, growth_model, submit, admin, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from registry.services import model_permission_set

    model_permission_set(model=growth_model, grantee=rita, granted=True, actor=admin)
    risky = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    churn = submit(factories.make_version(model=growth_model, by=people.gina), people.gina)
    rita = type(rita).objects.get(pk=rita.pk)  # a fresh user object: nothing cached
    assert permissions.can(rita, permissions.DECIDE, risky.steps.get(name="manager_review"))
    refusal = permissions.refusal(rita, permissions.DECIDE, churn.steps.get(name="manager_review"))
    assert refusal == "Only manager may decide 'Manager review'."
    assert list(permissions.requests_awaiting(rita)) == [risky]
    asked = {m.to[0] for m in mail.outbox if "review" in m.subject.lower()}
    assert "rita@example.com" in asked
    assert "rita" in permissions.users_who_can(permissions.DECIDE, risky.steps.get(name="manager_review")).values_list(
        "username", flat=True
    )
    assert "rita" not in permissions.users_who_can(
        permissions.DECIDE, churn.steps.get(name="manager_review")
    ).values_list("username", flat=True)
    services.step_decide(request=risky, actor=rita, verdict="approve", comment="Fine for Risk.")
    risky.refresh_from_db()
    assert risky.steps.get(name="manager_review").status == "approved"


def test_the_roles_held_everywhere_and_within_teams_are_read_together_in_one_query(
    rita, people, django_assert_num_queries
):
    """Nearly every permission question asks both; one query reads both, for one person or many."""
    from registry.roles import remember_groups, roles_in

    rita = type(rita).objects.get(pk=rita.pk)  # a fresh user object: nothing cached
    with django_assert_num_queries(1):
        assert roles_in(rita, people.risk.pk) == {MANAGER, people.risk.group.name}
        assert roles_in(rita, people.growth.pk) == {people.risk.group.name}  # a manager of Risk only
    dana, mona = (type(rita).objects.get(pk=person.pk) for person in (people.dana, people.mona))
    with django_assert_num_queries(1):
        remember_groups([rita, dana, mona])
    with django_assert_num_queries(0):
        assert MANAGER in roles_in(rita, people.risk.pk) and MANAGER not in roles_in(rita, people.growth.pk)
        assert DATA_SCIENTIST in roles_in(dana, people.growth.pk)
        assert MANAGER in roles_in(mona, people.growth.pk)


def test_a_persons_roles_are_read_once_per_request_even_when_their_groups_were_read_alone_first(rita, people):
    """A question about groups alone reads them alone; a later one about team roles reads both,
    but the answer given already stands: one answer per person for the whole request."""
    from registry.roles import role_names, roles_in

    rita = type(rita).objects.get(pk=rita.pk)
    assert MANAGER not in role_names(rita)  # a manager of Risk only
    rita.groups.add(Group.objects.get(name=MANAGER))  # meanwhile, made a manager everywhere
    assert MANAGER not in role_names(rita)
    assert roles_in(rita, people.growth.pk) == {people.risk.group.name}
    assert MANAGER in roles_in(type(rita).objects.get(pk=rita.pk), people.growth.pk)  # the next request


def test_a_data_scientist_of_one_team_registers_and_submits_there_only(people, risk_model, growth_model, admin):
    sam = factories.make_user("sam")
    teams.team_member_add(team=people.risk, user=sam, roles=[Group.objects.get(name=DATA_SCIENTIST)], actor=admin)
    from registry.services import model_permission_set

    model_permission_set(model=growth_model, grantee=sam, granted=True, actor=admin)
    sam = type(sam).objects.get(pk=sam.pk)
    assert registry_permissions.can(sam, registry_permissions.REGISTER_VERSION, risk_model)
    assert not registry_permissions.can(sam, registry_permissions.REGISTER_VERSION, growth_model)
    assert set(registry_permissions.restrict(type(risk_model).objects.all(), sam, registry_permissions.REGISTER_VERSION)
               ) == {risk_model}  # fmt: skip
    version = factories.make_version(model=risk_model, by=sam)
    assert permissions.can(sam, permissions.SUBMIT, version)
    with pytest.raises(PermissionDenied):
        factories.make_version(model=growth_model, by=sam)


def test_membership_and_role_changes_are_audited_and_for_administrators_only(rita, people, admin):
    manager, analyst = Group.objects.get(name=MANAGER), Group.objects.get(name="data analyst")
    assert teams.team_member_roles_set(team=people.risk, user=rita, roles=[manager, analyst], actor=admin)
    assert not teams.team_member_roles_set(team=people.risk, user=rita, roles=[analyst, manager], actor=admin)
    teams.team_member_remove(team=people.risk, user=rita, actor=admin)
    assert not TeamRole.objects.filter(user=rita).exists() and not rita.groups.filter(pk=people.risk.group_id).exists()
    events = list(AuditEvent.objects.filter(verb__startswith="team.").order_by("pk").values_list("verb", "data"))
    assert [verb for verb, _ in events] == ["team.member_added", "team.roles_changed", "team.member_removed"]
    assert events[1][1] == {"user": "rita", "added": ["data analyst"], "removed": []}
    with pytest.raises(PermissionDenied):
        teams.team_member_add(team=people.risk, user=rita, roles=[], actor=people.mona)
    with pytest.raises(Exception, match="team, not a role"):
        teams.team_member_add(team=people.risk, user=rita, roles=[people.growth.group], actor=admin)


def test_the_team_page_adds_sets_removes_and_grants(people, admin, client, risk_model):
    client.force_login(admin)
    page = client.get(f"/teams/{people.risk.slug}/").content.decode()
    assert page.count('data-testid="member"') == 6 and "Add a member" in page
    newcomer = factories.make_user("nia")
    manager = Group.objects.get(name=MANAGER)
    response = client.post(f"/teams/{people.risk.slug}/members/", {"user": newcomer.pk, "roles": [manager.pk]})
    assert response.status_code == 302
    assert TeamRole.objects.filter(user=newcomer, team=people.risk, role=manager).exists()
    response = client.post(f"/teams/{people.risk.slug}/members/roles/", {"user": newcomer.pk, "roles": []})
    assert response.status_code == 302 and not TeamRole.objects.filter(user=newcomer).exists()
    response = client.post(
        f"/teams/{people.risk.slug}/grants/", {"model": risk_model.pk, "grantee": f"team:{people.growth.pk}"}
    )
    assert response.status_code == 302
    assert registry_permissions.can(people.gary, registry_permissions.VIEW, risk_model)
    assert AuditEvent.objects.filter(verb="model.access_granted", model=risk_model).exists()
    response = client.post(f"/teams/{people.risk.slug}/members/remove/", {"user": newcomer.pk})
    assert response.status_code == 302 and not newcomer.groups.filter(pk=people.risk.group_id).exists()


@pytest.mark.parametrize(
    "path, body",
    [
        ("members/", {"user": "1" + "0" * 400}),
        ("members/", {"user": "\x00"}),
        ("members/roles/", {"user": "../1", "roles": ["1e400"]}),
        ("members/remove/", {"user": "99999999999999999999"}),
        ("grants/", {"model": "1", "grantee": "team:" + "9" * 400}),
        ("grants/", {"model": "1", "grantee": "group:1"}),
    ],
)
def test_hostile_team_forms_are_400s_and_change_nothing(people, admin, client, path, body):
    client.force_login(admin)
    before = AuditEvent.objects.count()
    response = client.post(f"/teams/{people.risk.slug}/{path}", body)
    assert response.status_code == 400
    assert AuditEvent.objects.count() == before


def test_members_read_the_page_others_do_not_find_it(people, client, admin):
    client.force_login(people.mona)
    page = client.get(f"/teams/{people.risk.slug}/").content.decode()
    assert 'data-testid="member"' in page and "Add a member" not in page
    assert client.post(f"/teams/{people.risk.slug}/members/", {"user": people.gina.pk}).status_code in (400, 403)
    assert not people.gina.groups.filter(pk=people.risk.group_id).exists()
    client.force_login(people.gina)
    assert client.get(f"/teams/{people.risk.slug}/").status_code == 404
