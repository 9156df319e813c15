"""Reads of approvals data for pages and the API, always scoped to what the user may see."""

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, prefetch_related_objects
from django.http import Http404

from approvals.models import (
    CheckRun,
    Comment,
    Decision,
    Delegation,
    EmergencyRelease,
    Preflight,
    PreflightCheck,
    PromotionRequest,
    StepState,
    Thread,
    Waiver,
)
from approvals.permissions import requests_awaiting, requests_visible_to
from audit.models import AuditEvent
from registry.permissions import VIEW, model_filter, note_visible

REQUEST_LIST_RELATED = ("model", "version", "submitted_by", "current_step")
# The columns a row of a request list shows (page or API): fewer columns, cheaper rows.
REQUEST_LIST_COLUMNS = (
    "status", "workflow_name", "submitted_at", "updated_at", "closed_at", "model_id", "version_id", "submitted_by_id",
    "current_step_id", "model__name", "version__number", "version__model_id", "version__emergency_release",
    "submitted_by__username", "current_step__name", "current_step__title", "current_step__kind", "current_step__status",
)  # fmt: skip


ORDERS = {
    "newest": ("-submitted_at", "-pk"),
    "oldest": ("submitted_at", "pk"),
    "updated": ("-updated_at", "-pk"),
    "model": ("model__name", "-submitted_at", "-pk"),
}


def request_list(
    *,
    user,
    status: str | None = None,
    awaiting_me: bool = False,
    model_name: str | None = None,
    search: str = "",
    sort: str = "newest",
) -> QuerySet[PromotionRequest]:
    """Requests ``user`` may see, newest first (or by ``sort``, one of ``ORDERS``); ``awaiting_me``
    keeps those waiting for their decision; ``search``: part of the model's name or the
    submitter's username, or "#12" for request 12."""
    requests = requests_awaiting(user) if awaiting_me else requests_visible_to(user)
    if status:
        requests = requests.filter(status=status)
    if model_name:
        requests = requests.filter(model__name=model_name)
    search = search.strip()
    if search.startswith("#") and search[1:].isascii() and search[1:].isdigit() and len(search) < 19:
        requests = requests.filter(pk=int(search[1:]))
    elif search:
        requests = requests.filter(Q(model__name__icontains=search) | Q(submitted_by__username__icontains=search))
    return requests.select_related(*REQUEST_LIST_RELATED).only(*REQUEST_LIST_COLUMNS).order_by(*ORDERS[sort])


# The columns of a request row in the API (with ``pk``): ``api.serializers.request_row`` shapes them.
REQUEST_ROW = (
    "model__name", "version__number", "status", "current_step__name", "current_step__title", "current_step__kind",
    "current_step__status", "workflow_name", "submitted_by__username", "submitted_at", "updated_at", "closed_at",
)  # fmt: skip


def request_rows(
    *, user, status: str | None = None, awaiting_me: bool = False, model_name: str | None = None
) -> QuerySet:
    """``request_list`` as ``values()`` rows of ``pk`` and ``REQUEST_ROW`` (the API's list)."""
    requests = request_list(user=user, status=status, awaiting_me=awaiting_me, model_name=model_name)
    return requests.values("pk", *REQUEST_ROW)


def with_active_steps(requests) -> list[PromotionRequest]:
    """A page of ``requests``, each with ``active_steps``: what it waits on now, in order (all the
    steps of a parallel review, not only the first). One query for the page."""
    requests = list(requests)
    active = StepState.objects.filter(status__in=StepState.ACTIVE_STATUSES).select_related("claimed_by")
    active = active.order_by("position")
    prefetch_related_objects(requests, Prefetch("steps", queryset=active, to_attr="active_steps"))
    return requests


def requests_submitted_by(*, user) -> QuerySet[PromotionRequest]:
    return request_list(user=user).filter(submitted_by=user)


SENT_BACK = (
    PromotionRequest.Status.CHANGES_REQUESTED,
    PromotionRequest.Status.CHECKS_FAILED,
    PromotionRequest.Status.REJECTED,
)


def requests_sent_back_to(*, user) -> QuerySet[PromotionRequest]:
    """The author's requests that came back (changes requested, checks failed, rejected) and
    that no later request answers yet."""
    answered = PromotionRequest.objects.filter(resubmission_of=OuterRef("pk"))
    return requests_submitted_by(user=user).filter(status__in=SENT_BACK).exclude(Exists(answered))


def _visible_request(user, pk: int, steps, *related: str) -> PromotionRequest:
    try:
        request = (
            requests_visible_to(user)
            .select_related(*related)
            .prefetch_related(Prefetch("steps", queryset=steps))
            .get(pk=pk)
        )
    except PromotionRequest.DoesNotExist:
        raise Http404(f"No request #{pk}.") from None
    request.version.model = request.model  # one row, already read: not again for the version's address
    note_visible(user, request.model)
    return request


def request_get(*, user, pk: int) -> PromotionRequest:
    """One request with its steps, check runs and decisions; Http404 when not visible."""
    steps = (
        StepState.objects.order_by("position")
        .select_related("claimed_by")
        .prefetch_related(
            "approver_groups",
            "approver_users",
            Prefetch("check_runs", queryset=CheckRun.objects.order_by("position")),
            Prefetch("check_runs__waivers", queryset=Waiver.objects.select_related("requested_by", "decided_by")),
            Prefetch(
                "decisions", queryset=Decision.objects.select_related("actor", "on_behalf_of").order_by("created_at")
            ),
        )
    )
    related = (
        "model__team", "version__created_by", "submitted_by", "current_step", "resubmission_of__version",
        "dataset__created_by", "revision",
    )  # fmt: skip
    return _visible_request(user, pk, steps, *related)


def request_for_decision(*, user, pk: int) -> PromotionRequest:
    """One request with what deciding needs (its steps and their approvers; no check runs or
    decisions); Http404 when not visible."""
    steps = (
        StepState.objects.order_by("position")
        .select_related("claimed_by")
        .prefetch_related("approver_groups", "approver_users")
    )
    return _visible_request(user, pk, steps, "model", "version", "current_step")


def answered_by(*, request: PromotionRequest) -> int | None:
    """The id of the latest request that answers ``request`` with a fixed version, if any."""
    later = PromotionRequest.objects.filter(resubmission_of=request).order_by("-submitted_at", "-pk")
    return later.values_list("pk", flat=True).first()


def request_timeline(*, request: PromotionRequest) -> QuerySet[AuditEvent]:
    """What happened to the request, oldest first; comments are read in the conversation."""
    return (
        request.audit_events.exclude(verb__startswith="comment.").select_related("actor").order_by("created_at", "pk")
    )


def conversation(*, request: PromotionRequest) -> QuerySet[Thread]:
    """The threads ``request`` shows (its own and the open ones it carries from the request it
    answers), oldest first, with their comments, authors, earlier texts and mentions: five queries."""
    comments = (
        Comment.objects.select_related("author", "request__model")
        .prefetch_related("edits", "mentioned")
        .order_by("created_at", "pk")
    )
    return (
        request.threads.select_related("started_by", "resolved_by", "started_on")
        .prefetch_related(Prefetch("comments", queryset=comments))
        .order_by("created_at", "pk")
    )


def thread_get(*, request: PromotionRequest, pk: int) -> Thread:
    """A thread ``request`` shows; Http404 otherwise."""
    thread = request.threads.select_related("started_on__model").filter(pk=pk).first()
    if thread is None:
        raise Http404("No such thread on this request.")
    return thread


def check_run_get(*, request: PromotionRequest, pk: int) -> CheckRun:
    """A check run of ``request`` (its steps prefetched); Http404 otherwise."""
    run = next((run for step in request.steps.all() for run in step.check_runs.all() if run.pk == pk), None)
    if run is None:
        raise Http404("This request has no such check.")
    return run


def waiver_get(*, request: PromotionRequest, pk: int) -> Waiver:
    """A waiver asked for on ``request``; Http404 otherwise."""
    waiver = Waiver.objects.select_related("check_run__step", "request__model").filter(request=request, pk=pk).first()
    if waiver is None:
        raise Http404("This request has no such waiver.")
    return waiver


def request_step(request, ref):
    """The step of ``request`` that ``ref`` names: its name (pages and API alike) or, from pages
    rendered before names were used, its id. None when it names none."""
    ref = str(ref or "")
    steps = request.steps.all()
    if ref.isascii() and ref.isdigit() and len(ref) < 19:
        return next((step for step in steps if step.pk == int(ref)), None)
    return next((step for step in steps if step.name == ref), None)


def latest_attestation(*, version):
    """The version's latest signed approval (``approvals.attestations``), or None."""
    from approvals.models import Attestation

    return Attestation.objects.filter(version=version).only("pk", "key_id", "created_at", "version_id").first()


def latest_preflight(*, version) -> Preflight | None:
    """The version's latest pre-flight with its checks in order, and who asked."""
    return (
        Preflight.objects.filter(version=version)
        .select_related("requested_by", "dataset")
        .prefetch_related(Prefetch("checks", queryset=PreflightCheck.objects.order_by("position")))
        .first()
    )


def emergency_get(*, request: PromotionRequest, pk: int) -> EmergencyRelease:
    """An emergency release asked for on ``request``; Http404 otherwise."""
    emergency = (
        EmergencyRelease.objects.select_related("request__model", "request__revision", "requested_by")
        .filter(request=request, pk=pk)
        .first()
    )
    if emergency is None:
        raise Http404("This request has no such emergency release.")
    return emergency


def emergencies_of(*, request: PromotionRequest) -> list[EmergencyRelease]:
    """The emergency releases asked for on ``request``, oldest first, with who asked and decided."""
    return list(EmergencyRelease.objects.filter(request=request).select_related("requested_by", "decided_by"))


def comment_get(*, request: PromotionRequest, pk: int) -> Comment:
    """A comment of a thread ``request`` shows; Http404 otherwise."""
    comment = Comment.objects.filter(thread__requests=request, pk=pk).select_related("request__model", "thread").first()
    if comment is None:
        raise Http404("No such comment on this request.")
    return comment


def recent_decisions(*, user, limit: int = 10) -> QuerySet[Decision]:
    return (
        Decision.objects.filter(model_filter(user, VIEW, "request__model"))
        .select_related("actor", "step", "request__model", "request__version")
        .order_by("-created_at")[:limit]
    )


def model_history(*, model) -> QuerySet[Decision]:
    """Who decided what on every request of ``model``, newest first."""
    return (
        Decision.objects.filter(request__model=model)
        .select_related("actor", "step", "request__version")
        .order_by("-created_at")
    )


def latest_request_by_version(*, model) -> dict[int, PromotionRequest]:
    """The latest request of each version of ``model``, keyed by version id (one query)."""
    latest = {}
    for request in PromotionRequest.objects.filter(model=model).select_related("current_step").order_by("submitted_at"):
        latest[request.version_id] = request
    return latest


def version_requests(*, version) -> QuerySet[PromotionRequest]:
    return version.promotion_requests.select_related("submitted_by", "current_step").order_by("-submitted_at")


def version_check_runs(*, version) -> QuerySet[CheckRun]:
    """Check runs of the version's latest request."""
    latest = version.promotion_requests.order_by("-submitted_at").values("pk")[:1]
    return CheckRun.objects.filter(step__request__in=latest).order_by("step__position", "position")


EVIDENCE_CHECKS = {
    "reevaluate": "measured",
    "fairness": "fairness",
    "schema_compatibility": "schema",
    "regression_vs_production": "regression",
}


def _evidence(version, request, runs) -> dict:
    evidence = {"reported": version.metrics, "measured": None, "fairness": None, "schema": None, "regression": None}
    for run in runs:
        key = EVIDENCE_CHECKS.get(run.check_type)
        if key and run.status in (CheckRun.Status.PASSED, CheckRun.Status.FAILED):
            evidence[key] = {"passed": run.status == CheckRun.Status.PASSED, "summary": run.summary, **run.result}
    evidence["request"] = None if request is None else {"id": request.pk, "status": request.status}
    evidence["checks"] = [
        {"check_type": run.check_type, "title": run.title, "status": run.status, "summary": run.summary,
         "config": run.config, **_waived(run)}
        for run in runs
    ]  # fmt: skip
    return evidence


def _waived(run) -> dict:
    """``{"waived": {...}}`` for a failed check someone waived (nothing otherwise, so the evidence
    of checks nobody waived reads as before)."""
    if run.status not in CheckRun.NOT_PASSED:
        return {}
    granted = [w for w in run.waivers.all() if w.status == Waiver.Status.GRANTED]
    if not granted:
        return {}
    return {"waived": {"by": granted[0].decided_by.username, "reason": granted[0].reason}}


def versions_evidence(*, versions) -> list[dict]:
    """What Signoff knows about each of ``versions`` beyond what its author reported: the check
    runs of its latest request and the latest result of each evidence check (measured metrics,
    fairness by group, schema, regression against production, waivers). Three queries for any number."""
    latest = {}
    requests = PromotionRequest.objects.filter(version__in=[v.pk for v in versions]).only("pk", "status", "version_id")
    for request in requests.order_by("submitted_at", "pk"):
        latest[request.version_id] = request
    runs = {}
    if latest:
        chosen = CheckRun.objects.filter(step__request__in=[r.pk for r in latest.values()])
        chosen = list(chosen.select_related("step").order_by("step__position", "position"))
        for run in chosen:
            runs.setdefault(run.step.request_id, []).append(run)
        # only a check that did not pass can be waived: no query when every one passed
        granted = Waiver.objects.filter(status=Waiver.Status.GRANTED).select_related("decided_by")
        not_passed = [run for run in chosen if run.status in CheckRun.NOT_PASSED]
        prefetch_related_objects(not_passed, Prefetch("waivers", queryset=granted))
    return [
        _evidence(version, latest.get(version.pk), runs.get(getattr(latest.get(version.pk), "pk", None), []))
        for version in versions
    ]


def version_evidence(*, version) -> dict:
    return versions_evidence(versions=[version])[0]


def comparison(*, model, selection) -> dict:
    """The versions ``selection`` names side by side (``evidence.comparison``), against the
    chosen baseline, else production (added when not chosen), else the oldest chosen. Three
    queries for any number of versions; Http404 for a number the model lacks."""
    from django.db.models import Q

    from evidence.comparison import compare
    from registry.models import ModelVersion

    found = {
        version.number: version
        for version in model.versions.filter(
            Q(number__in=[*selection.numbers, *filter(None, [selection.baseline])])
            | Q(stage=ModelVersion.Stage.PRODUCTION)
        ).select_related("created_by")
    }
    missing = [n for n in [*selection.numbers, *filter(None, [selection.baseline])] if n not in found]
    if missing:
        raise Http404(f"{model.name} has no version {missing[0]}.")
    production = next((v.number for v in found.values() if v.stage == ModelVersion.Stage.PRODUCTION), None)
    baseline = selection.baseline or production or selection.numbers[0]
    versions = [found[n] for n in sorted({*selection.numbers, baseline})]
    return compare(model, versions, versions_evidence(versions=versions), baseline)


def request_evidence(*, request: PromotionRequest) -> dict:
    """The evidence summary of ``request``'s version against production, as its request page
    shows it and its decisions record it (``evidence.comparison.summary``)."""
    from evidence.comparison import Selection, summary

    version = request.version
    return summary(comparison(model=request.model, selection=Selection((version.number,), None)), version.number)


def changes_since(*, request: PromotionRequest) -> dict | None:
    """For a resubmission, what changed since the version its earlier request sent back: metrics
    (with deltas), parameters, lineage and artifact that differ, and the model card's changes.
    None for a first submission."""
    from evidence.comparison import Selection

    earlier = request.resubmission_of
    if earlier is None or earlier.version_id == request.version_id:
        return None
    before, after = earlier.version.number, request.version.number
    compared = comparison(model=request.model, selection=Selection((before, after), before))
    numbers = [version["number"] for version in compared["versions"]]
    now, then = numbers.index(after), numbers.index(before)
    groups = (("Parameter", compared["params"]), ("Lineage", compared["lineage"]), ("Artifact", compared["artifacts"]))
    return {
        "request": earlier,
        "before": before,
        "after": after,
        "numbers": numbers,
        "metrics": [
            {
                "name": row["name"],
                "lower_is_better": row["lower_is_better"],
                "before": row["cells"][then]["value"],
                "cell": row["cells"][now],
            }
            for row in compared["metrics"]
            if row["cells"][now]["value"] != row["cells"][then]["value"]
        ],  # fmt: skip
        "fields": [
            {
                "group": group,
                "name": row["name"],
                "before": row["values"][then] or None,
                "after": row["values"][now] or None,
            }
            for group, rows in groups
            for row in rows
            if row["differs"]
        ],  # fmt: skip
        "card": [row for row in compared["model_card"] if row["differs"]],
    }


STAGE_VERBS = ("version.stage_changed", "version.rolled_back", "deployment.failed")


def stage_timeline(*, model, limit: int = 20) -> QuerySet[AuditEvent]:
    """The model's stage changes, newest first: promotions, deployments, rollbacks."""
    return (
        AuditEvent.objects.filter(model=model, verb__in=STAGE_VERBS)
        .select_related("actor")
        .order_by("-created_at", "-pk")[:limit]
    )


DELEGATIONS_SHOWN = 50  # the latest of each list; older ones are in the admin


def delegations_given(*, user) -> list[Delegation]:
    """The delegations ``user`` named, latest first, with their scope."""
    found = Delegation.objects.filter(principal_id=user.pk).select_related("delegate")
    return list(found.prefetch_related("registered_models", "roles")[:DELEGATIONS_SHOWN])


def delegations_held(*, user) -> list[Delegation]:
    """The delegations naming ``user`` as delegate, latest first, with their scope."""
    found = Delegation.objects.filter(delegate_id=user.pk).select_related("principal")
    return list(found.prefetch_related("registered_models", "roles")[:DELEGATIONS_SHOWN])


def delegation_given(*, user, pk: int) -> Delegation:
    """One delegation ``user`` named; Http404 otherwise."""
    found = Delegation.objects.filter(principal_id=user.pk, pk=pk).select_related("delegate").first()
    if found is None:
        raise Http404("You named no such delegation.")
    return found
