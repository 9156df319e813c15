"""The chain of the last attack: an artifact that, when a check loads it, starts a process that
sets Django up and decides every step as the reviewers. Its request stays with the checks'
verdict and no decision exists (issue 14, finding 3)."""

import pickle
import sys

from django.conf import settings

from approvals.models import Decision
from tests import factories


class SelfApproval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        script = (
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup(); "
            "from approvals.models import PromotionRequest; from approvals import services; "
            "from django.contrib.auth import get_user_model; "
            f"open({self.marker!r}, 'w').write('ran'); "
            "[services.step_decide(request=r, actor=get_user_model().objects.get(username='mona'), "
            "verdict='approve', comment='') for r in PromotionRequest.objects.all()]"
        )
        command = f'cd {settings.BASE_DIR} && {sys.executable} -c "{script}" &'
        import os

        return (os.system, (command,))


def test_an_artifact_that_would_approve_itself_is_refused_and_decides_nothing(people, risk_model, submit, tmp_path):
    marker = tmp_path / "self-approval-ran"
    version = factories.make_version(
        model=risk_model, by=people.dana, artifact=factories.artifact(pickle.dumps(SelfApproval(str(marker))))
    )
    request = submit(version, people.dana)  # the shipped workflow: the pickle scan comes first

    assert request.status == "checks_failed"
    scan = request.steps.get(name="automated_checks").check_runs.get(check_type="pickle_scan")
    assert scan.status == "failed" and "posix.system" in scan.summary
    assert not Decision.objects.exists()
    assert not marker.exists()
