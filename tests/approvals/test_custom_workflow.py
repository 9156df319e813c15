"""A workflow definition other than the default: two approvals, and a reviewer named by user."""

import pytest
from django.core.exceptions import PermissionDenied

from approvals import services
from tests import factories

TWO_MANAGERS_THEN_QUINN = """
name: strict
steps:
  - name: checks
    type: checks
    checks:
      - type: artifact_integrity
  - name: managers
    type: approval
    title: Two managers
    approvers: [manager]
    required_approvals: 2
  - name: named_reviewer
    type: approval
    title: Quinn signs off
    users: [quinn]
"""


@pytest.fixture
def strict_workflow(use_workflow):
    use_workflow(TWO_MANAGERS_THEN_QUINN)


def test_a_step_needing_two_approvals_waits_for_the_second(people, risk_model, background, strict_workflow):
    with background():
        request = services.promotion_request_submit(
            version=factories.make_version(model=risk_model, by=people.dana), actor=people.dana
        )
    request.refresh_from_db()
    assert request.workflow_name == "strict"

    with background():
        services.step_decide(request=request, actor=people.mona, verdict="approve")
    request.refresh_from_db()
    assert request.current_step.name == "managers"
    with pytest.raises(services.AlreadyDecided, match="You already decided"):
        services.step_decide(request=request, actor=people.mona, verdict="approve")

    with background():
        services.step_decide(request=request, actor=people.mike, verdict="approve")
    request.refresh_from_db()
    assert request.current_step.name == "named_reviewer"

    with pytest.raises(PermissionDenied):
        services.step_decide(request=request, actor=people.ivan, verdict="approve")
    with background():
        services.step_decide(request=request, actor=people.quinn, verdict="approve")
    request.refresh_from_db()
    assert request.status == "completed"
    assert request.version.stage == "development"  # this workflow promotes nothing
