"""The verdict line at the top of a request (GitHub's merge box): the checks, the metrics against
production, the approvals each people's step has and needs, the open conversation, and what the
request waits on. Read from what the page already holds: the request's prefetched steps with
their check runs and decisions, and its evidence summary."""

from dataclasses import dataclass

from approvals.models import CheckRun, Decision, PromotionRequest, StepState, Waiver

GOOD, BAD, NEUTRAL = "good", "bad", "neutral"


@dataclass(frozen=True)
class Part:
    text: str
    tone: str = NEUTRAL


def _checks(steps: list[StepState]) -> Part | None:
    runs = [run for step in steps if step.kind == StepState.Kind.CHECKS for run in step.check_runs.all()]
    if not runs:
        return None
    passed = sum(run.status == CheckRun.Status.PASSED for run in runs)
    waived = {
        run.pk
        for run in runs
        if run.status in CheckRun.NOT_PASSED  # only those can be waived
        for waiver in run.waivers.all()
        if waiver.status == Waiver.Status.GRANTED
    }
    failed = [
        run.check_type
        for run in runs
        if run.status in (CheckRun.Status.FAILED, CheckRun.Status.ERROR) and run.pk not in waived
    ]
    if waived and not failed:
        return Part(f"{passed} of {len(runs)} checks passed, {len(waived)} waived", GOOD)
    if failed:
        return Part(f"{passed} of {len(runs)} checks passed ({', '.join(failed)} failed)", BAD)
    if passed < len(runs):
        return Part(f"{passed} of {len(runs)} checks passed, the rest running")
    return Part(f"{passed} of {len(runs)} checks passed", GOOD)


def _metrics(steps: list[StepState], evidence: dict) -> Part | None:
    if not evidence.get("baseline"):
        return None
    worse = [row["name"] for row in evidence["metrics"] if row["candidate"].get("better") is False]
    if not worse:
        return Part(f"no metric worse than production v{evidence['baseline']}", GOOD)
    regression = [
        run.status
        for step in steps
        for run in step.check_runs.all()
        if run.check_type == "regression_vs_production" and run.status != CheckRun.Status.PENDING
    ]
    count = f"{len(worse)} metric{'s' if len(worse) != 1 else ''} worse than production ({', '.join(worse)})"
    if regression and all(status == CheckRun.Status.PASSED for status in regression):
        return Part(f"{count}, within the allowed drop")
    if regression and CheckRun.Status.RUNNING not in regression:
        return Part(f"{count}, beyond the allowed drop", BAD)
    return Part(count, BAD)


def _approvals(step: StepState) -> Part:
    approvals = sum(
        decision.verdict == Decision.Verdict.APPROVE and decision.round == step.round
        for decision in step.decisions.all()
    )
    noun = "deployment" if step.kind == StepState.Kind.DEPLOYMENT else "approval"
    text = (
        f"{approvals} of {step.required_approvals} {noun}{'s' if step.required_approvals != 1 else ''} for {step.title}"
    )
    if step.status == StepState.Status.SKIPPED and step.result.get("by_policy"):
        return Part(f"{step.title} approved by policy", GOOD)
    if step.status == StepState.Status.SKIPPED and step.result.get("emergency"):
        return Part(f"{step.title} skipped by the emergency release", BAD)
    if step.status in (StepState.Status.APPROVED, StepState.Status.DONE):
        return Part(text, GOOD)
    if step.status in (StepState.Status.REJECTED, StepState.Status.CHANGES_REQUESTED):
        return Part(f"{step.title}: {step.get_status_display().lower()}", BAD)
    if step.is_overdue:
        return Part(f"{text}, overdue", BAD)
    return Part(text)


def verdict_line(request: PromotionRequest, evidence: dict, *, open_threads: int = 0) -> list[Part]:
    """The parts of the verdict line, in reading order."""
    steps = list(request.steps.all())
    parts = [_checks(steps), _metrics(steps, evidence)]
    parts += [
        _approvals(step)
        for step in steps
        if step.is_human and step.status not in (StepState.Status.PENDING, StepState.Status.CANCELLED)
    ]
    if open_threads:
        parts.append(Part(f"{open_threads} open thread{'s' if open_threads != 1 else ''} in the conversation"))
    return [part for part in parts if part is not None]
