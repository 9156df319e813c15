"""The admin site: roles, teams and per-model permissions are managed there; workflow runs are read-only."""

import pytest

from approvals import services
from tests import factories


@pytest.fixture
def admin_user(db):
    return factories.make_user("root", is_superuser=True, is_staff=True)


@pytest.fixture
def submitted(people, risk_model, background):
    with background():
        return services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )


@pytest.mark.parametrize(
    "url",
    [
        "/admin/auth/group/",
        "/admin/auth/user/",
        "/admin/registry/team/",
        "/admin/registry/registeredmodel/",
        "/admin/registry/modelversion/",
        "/admin/approvals/promotionrequest/",
        "/admin/approvals/stepstate/",
        "/admin/audit/auditevent/",
        "/admin/notifications/notification/",
        "/admin/approvals/workflow/",
        "/admin/approvals/workflowrevision/",
        "/admin/approvals/comment/",
        "/admin/approvals/waiver/",
        "/admin/approvals/delegation/",
    ],
)
def test_the_admin_lists_open_for_superusers(client, admin_user, submitted, url):
    client.force_login(admin_user)
    assert client.get(url).status_code == 200


def test_per_model_permissions_are_managed_on_the_model(client, admin_user, risk_model):
    client.force_login(admin_user)
    response = client.get(f"/admin/registry/registeredmodel/{risk_model.pk}/permissions/")
    assert response.status_code == 200
    assert b"team Risk" in response.content


def test_workflow_runs_cannot_be_edited_in_the_admin(client, admin_user, submitted):
    client.force_login(admin_user)
    assert client.get("/admin/approvals/promotionrequest/add/").status_code == 403
    detail = client.get(f"/admin/approvals/promotionrequest/{submitted.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert client.post(f"/admin/audit/auditevent/{submitted.audit_events.first().pk}/delete/").status_code == 403


def test_people_without_staff_status_are_kept_out(client, people):
    client.force_login(people.mona)
    assert client.get("/admin/approvals/promotionrequest/").status_code == 302


def test_comments_waivers_and_delegations_are_read_only_in_the_admin(client, admin_user, submitted, people):
    from approvals import conversation

    comment = conversation.comment_post(request=submitted, actor=people.mona, body="A question.")
    client.force_login(admin_user)
    for model in ("comment", "waiver", "delegation"):
        assert client.get(f"/admin/approvals/{model}/add/").status_code == 403
    assert client.post(f"/admin/approvals/comment/{comment.pk}/delete/").status_code == 403
    assert b"A question." in client.get("/admin/approvals/comment/").content
