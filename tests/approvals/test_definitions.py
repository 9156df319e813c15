"""Workflow definitions are validated on load, with errors that say what and where."""

import pytest

from approvals.definitions import DefinitionError, default_definition, load_definition, parse_definition

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


def test_the_default_definition_is_seed_002s_four_role_workflow(shipped_workflow):
    definition = default_definition()
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
