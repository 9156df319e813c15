"""Decisions started from an e-mail, safe against link scanners: the e-mail's links carry a
signed token bound to the recipient, the request, the step, its round and the verdict, expiring
after ``SIGNOFF_EMAIL_ACTION_HOURS``. Opening a link decides nothing: it shows a confirm page with
the evidence, for the logged-in recipient only; the button on that page (a POST with CSRF and
the token) decides, through ``services.step_decide`` like any decision. A token works once: a
reviewer decides a step's round once."""

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError

from approvals.models import Decision, PromotionRequest, StepState

SALT = "signoff.email-action"
VERDICTS = (Decision.Verdict.APPROVE, Decision.Verdict.REQUEST_CHANGES)  # a rejection is decided on the page


def action_token(*, user, step: StepState, verdict: str) -> str:
    return signing.dumps(
        {"u": user.pk, "r": step.request_id, "s": step.pk, "n": step.round, "v": verdict}, salt=SALT, compress=True
    )


def action_read(token: str, *, user, request: PromotionRequest) -> tuple[StepState, str]:
    """The step and verdict ``token`` stands for, if it is ``user``'s for ``request`` and current."""
    if not isinstance(token, str) or not token or len(token) > 500:
        raise ValidationError("This link is incomplete; open the request instead.")
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.SIGNOFF_EMAIL_ACTION_HOURS * 3600)
    except signing.SignatureExpired:
        raise ValidationError("This link has expired; open the request instead.") from None
    except signing.BadSignature:
        raise ValidationError("This link is not valid; open the request instead.") from None
    if not isinstance(data, dict) or data.get("r") != request.pk or data.get("v") not in VERDICTS:
        raise ValidationError("This link is not valid for this request; open the request instead.")
    if data.get("u") != user.pk:
        raise PermissionDenied("This link was sent to someone else; decide from the request page.")
    step = next((s for s in request.steps.all() if s.pk == data.get("s")), None)
    if step is None or step.round != data.get("n"):
        raise ValidationError("This link is for an earlier round of the step; open the request instead.")
    return step, data["v"]
