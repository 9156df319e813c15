"""Workflow definitions are validated on load, with errors that say what and where."""

from pathlib import Path

import pytest

from approvals.definitions import DefinitionError, load_definition, parse_definition
from approvals.models import Workflow, WorkflowRevision
from approvals.revisions import definition_for_model, revision_definition

# Nine levels of nine aliases: about 600 characters that expand to 9**9 (387 million) values.
BILLION_LAUGHS = "name: x\nsteps:\n  - name: a\n    type: promotion\n    to_stage: qa\n    junk:\n" + "".join(
    f"      l{level}: &l{level} [" + ", ".join(["x" if level == 0 else f"*l{level - 1}"] * 9) + "]\n"
    for level in range(9)
)

VALID = """
name: strict
steps:
  - name: checks
    type: checks
    checks:
      - type: metric_threshold
        metric: auc
        min: 0.7
  - name: review
    type: approval
    approvers: [manager]
    required_approvals: 2
"""


def test_the_default_definition_is_seed_002s_four_role_workflow(shipped_workflow, risk_model):
    _revision, definition = definition_for_model(risk_model)
    assert [check["type"] for check in definition.steps[0].checks] == [
        "pickle_scan",
        "reevaluate",
        "metric_threshold",
        "regression_vs_production",
        "fairness",
        "schema_compatibility",
        "model_card",
        "artifact_integrity",
    ]
    assert [(s.name, s.type) for s in definition.steps] == [
        ("automated_checks", "checks"),
        ("manager_review", "approval"),
        ("promote_to_qa", "promotion"),
        ("qa_review", "approval"),
        ("deployment", "deployment"),
    ]
    assert definition.steps[1].approvers == ("manager",)
    assert definition.steps[3].approvers == ("data analyst",)
    assert definition.steps[4].approvers == ("IT engineer",)


def test_a_valid_definition_keeps_its_settings():
    definition = parse_definition(VALID)
    assert definition.steps[1].required_approvals == 2
    assert definition.steps[0].checks == ({"type": "metric_threshold", "metric": "auc", "min": 0.7},)


def test_approvers_given_as_a_string_are_refused_with_the_line():
    text = VALID.replace("approvers: [manager]", "approvers: 'bob'")
    with pytest.raises(DefinitionError) as error:
        parse_definition(text)
    assert "'approvers' must be a list" in str(error.value)
    assert error.value.line == 12


@pytest.mark.parametrize(
    "change, message",
    [
        (("type: approval", "type: aproval"), "'type' must be one of"),
        (("min: 0.7", "min: high"), "'min' must be a number"),
        (("metric: auc", 'metric: ""'), "'metric' must name a metric"),
        (("type: metric_threshold", "type: magic"), "must have a 'type' among"),
        (("required_approvals: 2", "required_approvals: 0"), "'required_approvals' must be a whole number"),
        (("name: review", "name: checks"), "is used twice"),
        (("required_approvals: 2", "on_reject: explode"), "'on_reject' must be one of"),
        (("required_approvals: 2", "approvals_needed: 2"), "unknown key 'approvals_needed'"),
    ],
)
def test_invalid_definitions_are_refused_with_a_clear_message(change, message):
    old, new = change
    assert old in VALID
    with pytest.raises(DefinitionError, match=message):
        parse_definition(VALID.replace(old, new, 1))


def test_a_deployment_step_must_come_last():
    text = VALID.replace("steps:\n", "steps:\n  - name: ship\n    type: deployment\n    approvers: [IT engineer]\n", 1)
    with pytest.raises(DefinitionError, match="deployment step may appear once, as the last step"):
        parse_definition(text)


def test_broken_yaml_names_the_line():
    with pytest.raises(DefinitionError) as error:
        parse_definition("name: x\nsteps: [\n")
    assert "not valid YAML" in str(error.value)
    assert error.value.line is not None


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DefinitionError, match="cannot read workflow file"):
        load_definition(tmp_path / "nope.yaml")


# ---------------------------------------------------------------------------------------------
# What the definitions can say, and every kind of mistake refused at its line

RICH = """
name: rich
steps:
  - name: automated_checks
    type: checks
    checks:
      - type: artifact_integrity
  - name: reviews
    parallel:
      - name: manager_review
        type: approval
        approvers: [manager]
      - name: risk_review
        type: approval
        approvers: [manager, data analyst]
        require: {manager: 1, data analyst: 1}
  - name: fast_lane
    type: policy
    when:
      any:
        - not: {check: artifact_integrity, is: failed}
        - {metric: roc_auc, gte: 0.9}
    then: {skip: qa_review}
  - name: qa_review
    type: approval
    approvers: [data analyst]
    on_reject: {return_to_step: manager_review}
  - name: deploy
    type: deployment
    approvers: [IT engineer]
"""


def test_a_rich_definition_parses_into_its_parts():
    definition = parse_definition(RICH)
    by_name = {step.name: step for step in definition.steps}
    assert by_name["manager_review"].group == by_name["risk_review"].group == "reviews"
    assert by_name["risk_review"].require == (("manager", 1), ("data analyst", 1))
    assert by_name["risk_review"].required_approvals == 2
    assert by_name["fast_lane"].then == "skip" and by_name["fast_lane"].target == "qa_review"
    assert by_name["qa_review"].on_reject == "return_to_step" and by_name["qa_review"].return_to == "manager_review"
    assert parse_definition(RICH + "\n# a comment\n").digest == definition.digest  # what it says, not its layout


RISK_REVIEW_BODY = (
    "        type: approval\n        approvers: [manager, data analyst]\n        require: {manager: 1, data analyst: 1}"
)


@pytest.mark.parametrize(
    "old, new, message, shown",
    [
        ("type: policy", "type: rule", "'type' must be one of", "type: rule"),
        ("{metric: roc_auc, gte: 0.9}", "{metric: shininess, gte: 0.9}", "unknown metric 'shininess'", "shininess"),
        ("{metric: roc_auc, gte: 0.9}", "{metric: roc_auc, gte: 1e400}", "'gte' must be a finite number", "1e400"),
        ("{metric: roc_auc, gte: 0.9}", "{metric: roc_auc, gte: 0.9, lt: 1}", "exactly one comparison", "lt: 1"),
        ("{return_to_step: manager_review}", "{return_to_step: deploy}", "earlier approval step", "deploy}"),
        ("{return_to_step: manager_review}", "{return_to_step: nobody}", "earlier approval step", "nobody"),
        ("{return_to_step: manager_review}", "send_back", "'on_reject' must be one of", "send_back"),
        ("then: {skip: qa_review}", "then: {skip: automated_checks}", "later approval step", "skip: automated"),
        ("then: {skip: qa_review}", "then: explode", "'then' must be 'approve'", "explode"),
        (
            "require: {manager: 1, data analyst: 1}",
            "require: {IT engineer: 1}",
            "not among its approvers",
            "IT engineer",
        ),
        ("require: {manager: 1, data analyst: 1}", "require: {manager: 0}", "whole number from 1", "manager: 0"),
        ("approvers: [manager, data analyst]", "approvers: manager", "must be a list of names", "approvers: manager"),
        (
            "        require: {manager: 1, data analyst: 1}\n",
            "        required_approvals: 1\n        quorum: all\n",
            "not both",
            "quorum: all",
        ),
        (
            "not: {check: artifact_integrity, is: failed}",
            "not: {check: pickle_scan, is: failed}",
            "which no earlier checks step runs",
            "when:",
        ),
        (
            RISK_REVIEW_BODY,
            "        type: promotion\n        to_stage: qa",
            "only approval steps run in parallel",
            "name: risk_review",
        ),
    ],
)
def test_each_kind_of_mistake_is_refused_at_its_line(old, new, message, shown):
    assert old in RICH
    text = RICH.replace(old, new, 1)
    with pytest.raises(DefinitionError, match=message) as error:
        parse_definition(text)
    assert error.value.line is not None and shown in text.splitlines()[error.value.line - 1], str(error.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: x\nsteps:\n" + "  - name: a\n    type: approval\n    approvers: [manager]\n" * 2, "used twice"),
        ("\x00", "not valid YAML"),
        ("name: x\u00e9\nsteps: []", "'name' must be lowercase"),
        ("name: x\nsteps: " + "[" * 5000 + "]" * 5000, "nested too deeply"),
        ("name: x\nsteps: [" + "1," * 60000 + "]", "longer than"),
        (
            "name: x\nsteps:\n  - name: p\n    type: policy\n    when: "
            + "{not: " * 30
            + "{check: a, is: passed}"
            + "}" * 30,
            "nest at most",
        ),
        ("- a\n- b", "must be a mapping"),
        ("name: x\ud800\nsteps: []", "not valid YAML"),
        (VALID.replace("required_approvals: 2", "required_approvals: " + "9" * 400), "whole number from 1 to 1000"),
        (VALID.replace("name: strict", "name: ../strict"), "'name' must be lowercase"),
        (
            "name: x\nsteps:\n  - name: p\n    type: policy\n    when: {metric: accuracy, gte: " + "9" * 400 + "}",
            "'gte' must be a finite number",
        ),
        ("name: x\nsteps:\n  - name: a\n    type: approval\n    approvers: ['" + "m" * 1_000_000 + "']", "longer than"),
        (
            "name: x\nsteps:\n  - name: c\n    type: checks\n    checks:\n      - type: metric_threshold\n"
            "        metric: accuracy\n        min: " + "9" * 400,
            "'min' must be a number",
        ),
        (BILLION_LAUGHS, "expands to more than 100,000 values through its aliases"),
        ("name: x\nsteps: &steps [*steps]\n", "an alias refers to a value that contains it"),
        ("name: x\nsteps:\n  - &step {name: a, type: approval, approvers: [manager], title: [*step]}\n", "contains it"),
    ],
)
def test_hostile_texts_are_refused_with_a_message(text, message):
    with pytest.raises(DefinitionError, match=message):
        parse_definition(text)


def test_a_key_given_twice_is_refused_at_its_second_line():
    """YAML keeps the last of two equal keys: one of two settings would vanish without a word."""
    text = VALID.replace("approvers: [manager]", "approvers: [manager]\n    approvers: [data scientist]", 1)
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines, 1) if "approvers: [manager]" in line)
    with pytest.raises(DefinitionError, match=rf"'approvers' is given twice \(also on line {first}\)") as error:
        parse_definition(text)
    assert error.value.line == first + 1 and "approvers: [data scientist]" in lines[error.value.line - 1]


@pytest.mark.django_db
def test_a_revision_saved_with_a_key_given_twice_before_that_was_refused_still_reads_as_then():
    """Requests pin their revision: one saved while YAML's "the last one counts" still passed goes on."""
    text = VALID.replace("required_approvals: 2", "required_approvals: 2\n    required_approvals: 1", 1)
    with pytest.raises(DefinitionError, match="given twice"):
        parse_definition(text)
    workflow = Workflow.objects.create(name="strict")
    revision = WorkflowRevision.objects.create(workflow=workflow, number=1, source=text, digest="0" * 64)
    assert revision_definition(revision).steps[1].required_approvals == 1


def test_aliases_that_repeat_a_value_are_read_as_that_value():
    """An anchor reused in sibling places (not inside itself) is ordinary YAML and stays allowed."""
    text = """
name: shared
steps:
  - name: first
    type: approval
    approvers: &reviewers [manager]
  - name: second
    type: approval
    approvers: *reviewers
"""
    definition = parse_definition(text)
    assert [step.approvers for step in definition.steps] == [("manager",), ("manager",)]


def test_approvals_nobody_could_give_are_refused_when_an_administrator_saves(people):
    from approvals.revisions import workflow_validate

    too_many = VALID.replace("required_approvals: 2", "required_approvals: 5")
    with pytest.raises(DefinitionError, match="needs 5 approvals but only 3 people"):  # mona, mike, gary
        workflow_validate(too_many)
    with pytest.raises(DefinitionError, match="no role called 'auditor'"):
        workflow_validate(VALID.replace("approvers: [manager]", "approvers: [auditor]"))
    with pytest.raises(DefinitionError, match="no active user called 'zoe'"):
        workflow_validate(VALID.replace("approvers: [manager]", "users: [zoe]"))


def test_two_defaults_are_refused_by_the_database(people):
    from django.db import IntegrityError, transaction

    from approvals.models import Workflow

    assert Workflow.objects.filter(is_default=True).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Workflow.objects.create(name="second", is_default=True)


def test_a_revision_cannot_be_changed(people):
    from django.db import DatabaseError, transaction

    from approvals.models import WorkflowRevision

    revision = WorkflowRevision.objects.order_by("pk").first()
    with pytest.raises(ValueError, match="immutable"):
        revision.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        WorkflowRevision.objects.filter(pk=revision.pk).update(source="name: hacked")


def test_the_readme_reference_is_a_valid_definition():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("### Definition reference", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    definition = parse_definition(block)
    kinds = {step.type for step in definition.steps}
    assert kinds == {"checks", "approval", "promotion", "policy", "deployment"}
    assert {step.group for step in definition.steps} == {"", "reviews"}


def test_the_shipped_workflows_are_valid():
    root = Path(__file__).parents[2]
    paths = [*(root / "approvals" / "workflows").glob("*.yaml"), *(root / "demo" / "workflows").glob("*.yaml")]
    assert {path.name: load_definition(path).name for path in paths} == {
        "default.yaml": "default", "low-risk.yaml": "low-risk", "high-risk.yaml": "high-risk",
        "mlflow-gated.yaml": "mlflow-gated",
    }  # fmt: skip


def test_each_broken_step_is_reported_with_its_line_not_only_the_first():
    text = """name: two_mistakes
steps:
  - name: review
    type: approval
    approvers: manager
  - name: fine
    type: approval
    approvers: [manager]
  - name: deploy
    type: deployment
    approvers: [IT engineer]
    required_approvals: -1
"""
    with pytest.raises(DefinitionError) as error:
        parse_definition(text)
    assert [line for line, _ in error.value.problems] == [5, 12]
    assert error.value.line == 5 and "'approvers' must be a list" in error.value.problem
    assert "required_approvals" in error.value.problems[1][1]
    assert str(error.value).splitlines()[1].startswith("line 12: step 3 (deploy)")
