"""Workflows as an administrator edits them: YAML checked at its line, revisions with a diff, a
dry run, assignments; and the same through manage.py for teams that keep workflows in git."""

import pytest
from django.core.management import CommandError, call_command

from approvals.models import Workflow, WorkflowAssignment, WorkflowRevision
from audit.models import AuditEvent
from tests import factories
from tests.conftest import BASIC_WORKFLOW

BASIC = BASIC_WORKFLOW.read_text()


@pytest.fixture
def admin_client(client, people):
    root = factories.make_user("root", is_superuser=True, is_staff=True)
    client.force_login(root)
    client.root = root
    return client


def form(source, note="", default=False, models=()):
    data = {"source": source, "note": note, "models": [m.pk for m in models],
            "revisions-TOTAL_FORMS": "0", "revisions-INITIAL_FORMS": "0"}  # fmt: skip
    if default:
        data["make_default"] = "on"
    return data


def test_an_invalid_definition_is_shown_at_its_line_and_nothing_is_saved(admin_client):
    workflow = Workflow.objects.get(is_default=True)
    before = (WorkflowRevision.objects.count(), AuditEvent.objects.count())
    broken = BASIC.replace("approvers: [manager]", "approvers: 'bob'", 1)
    response = admin_client.post(f"/admin/approvals/workflow/{workflow.pk}/change/", form(broken, default=True))
    page = response.content.decode()
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "approvers: 'bob'" in text)
    assert response.status_code == 200
    assert f"line {line}: step 2 (manager_review): &#x27;approvers&#x27; must be a list" in page
    assert f"Line {line}: approvers: &#x27;bob&#x27;" in page
    assert (WorkflowRevision.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("approvers: [manager]", "approvers: &loop [manager, *loop]", "an alias refers to a value that contains it"),
        ("approvers: [manager]", "approvers: [manager]\n    approvers: [data scientist]", "is given twice"),
        ("min: 0.8", "min: " + "9" * 400, "&#x27;min&#x27; must be a number"),
    ],
)
def test_hostile_yaml_is_refused_at_its_line_not_with_an_error_page(admin_client, old, new, message):
    """An alias inside itself once ended in a RecursionError, and an integer no float holds in an
    OverflowError: each a server error. Each is now a refusal that saves nothing."""
    workflow = Workflow.objects.get(is_default=True)
    before = (WorkflowRevision.objects.count(), AuditEvent.objects.count())
    assert old in BASIC
    response = admin_client.post(f"/admin/approvals/workflow/{workflow.pk}/change/", form(BASIC.replace(old, new, 1)))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert (WorkflowRevision.objects.count(), AuditEvent.objects.count()) == before


def test_every_broken_step_is_shown_at_its_line_at_once(admin_client):
    workflow = Workflow.objects.get(is_default=True)
    before = WorkflowRevision.objects.count()
    broken = BASIC.replace("approvers: [manager]", "approvers: 'bob'", 1).replace(
        "to_stage: qa", "to_stage: production", 1
    )
    response = admin_client.post(f"/admin/approvals/workflow/{workflow.pk}/change/", form(broken, default=True))
    page = response.content.decode()
    lines = broken.splitlines()
    first = next(i for i, text in enumerate(lines, 1) if "approvers: 'bob'" in text)
    second = next(i for i, text in enumerate(lines, 1) if "to_stage: production" in text)
    assert first < second
    assert f"line {first}: step 2 (manager_review): &#x27;approvers&#x27; must be a list" in page
    assert f"line {second}: step 3" in page and "&#x27;to_stage&#x27; must be one of" in page
    assert f"Line {second}: to_stage: production" in page
    assert WorkflowRevision.objects.count() == before


def test_a_saved_change_is_a_new_audited_revision_with_a_diff(admin_client):
    workflow = Workflow.objects.get(is_default=True)
    first = workflow.latest
    changed = BASIC.replace("title: QA review", "title: QA sign-off")
    response = admin_client.post(
        f"/admin/approvals/workflow/{workflow.pk}/change/", form(changed, note="Clearer title", default=True)
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    latest = workflow.latest
    assert latest.number == first.number + 1 and latest.author == admin_client.root and latest.note == "Clearer title"
    event = AuditEvent.objects.filter(verb="workflow.revised").latest("pk")
    assert event.actor == admin_client.root and event.data["revision"] == latest.number
    page = admin_client.get(f"/admin/approvals/workflow/{workflow.pk}/change/").content.decode()
    assert "-    title: QA review" in page and "+    title: QA sign-off" in page


def test_a_new_workflow_is_assigned_to_a_model_and_can_become_the_default(admin_client, risk_model):
    text = BASIC.replace("name: default", "name: credit")
    response = admin_client.post("/admin/approvals/workflow/add/", form(text, models=[risk_model]))
    assert response.status_code == 302, response.content.decode()[:3000]
    credit = Workflow.objects.get(name="credit")
    assert WorkflowAssignment.objects.get(model=risk_model).workflow == credit
    assert AuditEvent.objects.filter(verb="workflow.created", actor=admin_client.root).exists()
    assert AuditEvent.objects.filter(verb="workflow.assigned").latest("pk").to_state == "credit"

    old_default = Workflow.objects.get(is_default=True)
    refused = admin_client.post(f"/admin/approvals/workflow/{old_default.pk}/change/", form(old_default.latest.source))
    assert "One workflow is always the default" in refused.content.decode()
    admin_client.post(f"/admin/approvals/workflow/{credit.pk}/change/", form(text, default=True, models=[risk_model]))
    assert Workflow.objects.get(is_default=True) == credit
    assert AuditEvent.objects.filter(verb="workflow.default_set").latest("pk").from_state == old_default.name


def test_the_dry_run_names_the_steps_and_who_could_decide_each(admin_client, people, risk_model):
    factories.make_version(model=risk_model, by=people.dana)
    workflow = Workflow.objects.get(is_default=True)
    page = admin_client.get(f"/admin/approvals/workflow/{workflow.pk}/dry-run/?model=credit-risk").content.decode()
    assert "Manager review" in page and "mike, mona" in page and "quinn" in page
    assert "gary" not in page  # another team's manager
    assert admin_client.get(f"/admin/approvals/workflow/{workflow.pk}/dry-run/?model=nope").status_code == 404


def test_people_who_are_not_administrators_change_no_workflow(client, people):
    client.force_login(people.mona)
    workflow = Workflow.objects.get(is_default=True)
    before = workflow.revisions.count()
    response = client.post(f"/admin/approvals/workflow/{workflow.pk}/change/", form(BASIC.replace("QA", "Q")))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert workflow.revisions.count() == before


def test_workflow_apply_and_export(people, risk_model, tmp_path, capsys):
    path = tmp_path / "credit.yaml"
    path.write_text(BASIC.replace("name: default", "name: credit"))
    call_command("workflow_apply", str(path), "--model", "credit-risk", "--note", "From git")
    credit = Workflow.objects.get(name="credit")
    assert WorkflowAssignment.objects.get(model=risk_model).workflow == credit and credit.latest.note == "From git"
    call_command("workflow_apply", str(path), "--model", "credit-risk")  # the same text: nothing new
    assert credit.revisions.count() == 1

    path.write_text(BASIC.replace("name: default", "name: credit").replace("[manager]", "[auditor]"))
    with pytest.raises(CommandError, match="no role called 'auditor'"):
        call_command("workflow_apply", str(path))
    assert credit.revisions.count() == 1

    capsys.readouterr()
    call_command("workflow_export", "--workflow", "credit")
    assert capsys.readouterr().out == credit.latest.source
    call_command("workflow_export", "--output", str(tmp_path / "out"))
    assert (tmp_path / "out" / "credit.yaml").read_text() == credit.latest.source


def test_the_dry_run_reads_a_policy_in_words(people, risk_model):
    from approvals.revisions import workflow_dry_run
    from tests.conftest import install_workflow

    text = (
        "name: fast\nsteps:\n  - name: lane\n    type: policy\n    when: {model_card: risk_tier, equals: low}\n"
        "  - name: review\n    type: approval\n    approvers: [manager]\n"
    )
    workflow = install_workflow(text, model=risk_model)
    factories.make_version(model=risk_model, by=people.dana)
    (lane, _review) = workflow_dry_run(revision=workflow.latest, model=risk_model)
    assert lane["note"].endswith("not met (read: model card risk_tier = —)"), lane["note"]
