"""Delegations (out of office): the delegate decides steps that name the principal and is told
when the principal is asked; decisions record "on behalf of"; the delegate holds the roles and
meets every separation-of-duties rule in their own right; a delegation lapses by itself."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from approvals import delegations, permissions, services
from approvals.models import Delegation
from audit.models import AuditEvent
from tests import factories

NAMED = """
name: named
steps:
  - name: sign_off
    type: approval
    title: Sign-off by mona
    users: [mona]
"""


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)  # no cached groups or delegations


def delegate(principal, to, *, days=7, **scope):
    now = timezone.now()
    return delegations.delegation_create(
        principal=principal, delegate=to, starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(days=days),
        reason="On leave.", actor=principal, **scope,
    )  # fmt: skip


@pytest.fixture
def named_request(use_workflow, people, risk_model, background, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    use_workflow(NAMED)
    return lambda: services.promotion_request_submit(
        version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
    )


def test_the_delegate_decides_a_step_naming_the_principal_on_their_behalf(named_request, people, background):
    delegate(people.mona, people.mike)
    mail.outbox.clear()
    with background():
        request = named_request()
    assert sorted(m.to[0] for m in mail.outbox if "waits for" in m.subject) == ["mike@example.com", "mona@example.com"]
    step = request.steps.get()
    assert permissions.can(fresh(people.mike), permissions.DECIDE, step)
    with background():
        decision = services.step_decide(request=request, actor=fresh(people.mike), verdict="approve", comment="ok")
    assert decision.on_behalf_of == people.mona
    event = AuditEvent.objects.get(verb="decision.approve", request=request)
    assert event.data["on_behalf_of"] == "mona" and event.actor == people.mike


def test_without_a_delegation_or_after_it_lapsed_nobody_else_may(named_request, people, background):
    with background():
        request = named_request()
    step = request.steps.get()
    assert not permissions.can(fresh(people.mike), permissions.DECIDE, step)
    lapsed = delegate(people.mona, people.mike)
    Delegation.objects.filter(pk=lapsed.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert not permissions.can(fresh(people.mike), permissions.DECIDE, step)
    with pytest.raises(PermissionDenied):
        services.step_decide(request=request, actor=fresh(people.mike), verdict="approve", comment="ok")


def test_a_revoked_delegation_stops_at_once_and_is_audited(named_request, people, background):
    with background():
        request = named_request()
    made = delegate(people.mona, people.mike)
    with pytest.raises(PermissionDenied):
        delegations.delegation_revoke(delegation=made, actor=people.mike)
    delegations.delegation_revoke(delegation=made, actor=people.mona)
    assert not permissions.can(fresh(people.mike), permissions.DECIDE, request.steps.get())
    verbs = list(AuditEvent.objects.filter(verb__startswith="delegation.").order_by("pk").values_list("verb", "actor"))
    assert verbs == [("delegation.created", people.mona.pk), ("delegation.revoked", people.mona.pk)]


def test_the_delegate_is_bound_by_separation_of_duties_in_their_own_right(use_workflow, people, risk_model, background):
    use_workflow(NAMED.replace("users: [mona]", "users: [mona]\n    approvers: [manager]"))
    people.dana.groups.add(Group.objects.get(name="manager"))
    delegate(people.mona, fresh(people.dana))
    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
    with pytest.raises(PermissionDenied, match="four-eyes"):
        services.step_decide(request=request, actor=fresh(people.dana), verdict="approve", comment="ok")


def test_a_delegation_limited_to_a_model_reaches_no_other(named_request, people, background, growth_model):
    other = factories.make_model(team=people.risk, by=people.dana, name="other-model")
    delegate(people.mona, people.mike, models=[other])
    with background():
        request = named_request()
    assert not permissions.can(fresh(people.mike), permissions.DECIDE, request.steps.get())


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"to": "mona"}, "Name someone else"),
        ({"days": 91}, "at most 90 days"),
        ({"days": -1}, "after the start"),
        ({"roles": ["data analyst"]}, "You do not hold the role"),
        ({"to": "quinn", "roles": ["manager"]}, "quinn does not hold the role manager"),
        ({"reason": ""}, "Say why"),
        ({"reason": "x\x00"}, "NUL character"),
    ],
)
def test_a_bad_delegation_is_refused_and_writes_nothing(people, change, problem):
    now = timezone.now()
    with pytest.raises(ValidationError, match=problem):
        delegations.delegation_create(
            principal=people.mona, delegate=getattr(people, change.get("to", "mike")), starts_at=now,
            ends_at=now + timedelta(days=change.get("days", 7)), reason=change.get("reason", "On leave."),
            actor=people.mona, roles=[Group.objects.get(name=name) for name in change.get("roles", [])],
        )  # fmt: skip
    assert not Delegation.objects.exists() and not AuditEvent.objects.filter(verb__startswith="delegation.").exists()


def test_only_the_principal_names_their_delegate(people):
    now = timezone.now()
    with pytest.raises(PermissionDenied):
        delegations.delegation_create(
            principal=people.mona, delegate=people.mike, starts_at=now, ends_at=now + timedelta(days=1),
            reason="Sneaky.", actor=people.mike,
        )  # fmt: skip


def test_the_page_names_a_delegate_and_revokes(client, people):
    client.force_login(people.mona)
    page = client.get("/delegations/").content.decode()
    assert '<option value="%d">' % people.mike.pk in page and '<option value="%d">' % people.gina.pk not in page
    r = client.post("/delegations/new/", {"delegate": people.mike.pk, "starts_at": "2026-01-01T09:00",
                                          "ends_at": "2025-01-01T09:00", "reason": "Leave"})  # fmt: skip
    assert r.status_code == 400 and "The end must come after the start" in r.content.decode()
    assert not Delegation.objects.exists()
    r = client.post("/delegations/new/", {"delegate": people.gina.pk, "starts_at": "2026-01-01T09:00",
                                          "ends_at": "2099-01-01T09:00", "reason": "Leave"})  # fmt: skip
    assert r.status_code == 400 and not Delegation.objects.exists()  # not a teammate: not offered, refused
    start = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    end = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    r = client.post("/delegations/new/", {"delegate": people.mike.pk, "starts_at": start, "ends_at": end,
                                          "reason": "On leave until Thursday."})  # fmt: skip
    assert r.status_code == 302
    made = Delegation.objects.get()
    assert "On leave until Thursday." in client.get("/delegations/").content.decode()
    client.force_login(people.mike)
    assert client.post(f"/delegations/{made.pk}/revoke/").status_code == 404  # only the principal revokes
    assert 'data-testid="delegations-held"' in client.get("/delegations/").content.decode()
    client.force_login(people.mona)
    assert client.post(f"/delegations/{made.pk}/revoke/").status_code == 302
    made.refresh_from_db()
    assert made.revoked_at is not None


def test_the_request_page_and_api_say_on_whose_behalf(named_request, people, background, client, api):
    delegate(people.mona, people.mike)
    with background():
        request = named_request()
        services.step_decide(request=request, actor=fresh(people.mike), verdict="approve", comment="ok")
    client.force_login(people.dana)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert 'data-testid="on-behalf-of">on behalf of <strong>mona</strong>' in page
    (step,) = api(people.dana).get(f"/api/requests/{request.pk}/").json()["steps"]
    assert step["decisions"][0]["on_behalf_of"] == "mona"


def test_the_form_offers_roles_not_teams(people):
    from approvals.forms import DelegationForm

    offered = [group.name for group in DelegationForm(user=people.mona).fields["roles"].queryset]
    assert offered == ["manager"]
