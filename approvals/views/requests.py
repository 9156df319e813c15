"""The request queue and the request page, where reviewers decide."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from approvals import permissions, selectors, services
from approvals.forms import SORTS, CommentForm, DecisionForm, EmergencyRequestForm, RequestFilterForm, WithdrawForm
from approvals.models import CheckRun, PromotionRequest, StepState
from approvals.verdict import verdict_line
from config.pages import form_errors_from, paginate, valid_query
from config.pagination import CappedPaginator
from evidence import comparison
from registry import permissions as registry_permissions


@login_required
def request_list(request):
    filters = valid_query(request, RequestFilterForm)
    view, status = filters["view"] or "mine", filters["status"] or None
    sort = filters["sort"] or "newest"
    requests = selectors.request_list(
        user=request.user, status=status, awaiting_me=view == "mine", model_name=filters["model"] or None,
        search=filters["q"], sort=sort,
    )  # fmt: skip
    page = paginate(request, requests, paginator_class=CappedPaginator)
    page.object_list = selectors.with_active_steps(page.object_list)
    return render(
        request,
        "requests/list.html",
        {
            "page": page,
            "view": view,
            "status": status,
            "statuses": PromotionRequest.Status.choices,
            "model_name": filters["model"],
            "search": filters["q"],
            "sort": sort,
            "sorts": SORTS,
        },
    )


def steps_to_decide(user, promotion_request) -> list[StepState]:
    """The steps whose decision form the page offers ``user`` (the service decides in the end):
    the prefetched steps that the permission policy's one expression lets them decide now."""
    if promotion_request.status != PromotionRequest.Status.AWAITING_REVIEW:
        return []
    mine = permissions.steps_to_decide(user, promotion_request)
    return [step for step in promotion_request.steps.all() if step.pk in mine]


def may_decide(user, promotion_request) -> bool:
    return bool(steps_to_decide(user, promotion_request))


def evidence_context(promotion_request) -> dict:
    """The evidence summary of the request and its digest, which the decision form carries."""
    evidence = selectors.request_evidence(request=promotion_request)
    # Against production; without one, against the version before (versions are numbered 1, 2, …).
    baseline = evidence["baseline"] or (evidence["candidate"] - 1 if evidence["candidate"] > 1 else None)
    numbers = [n for n in (baseline, evidence["candidate"]) if n is not None]
    query = "&".join(f"v={n}" for n in numbers) + f"&request={promotion_request.pk}"
    return {
        "evidence": evidence,
        "evidence_digest": comparison.digest(evidence),
        "compare_query": query if len(numbers) > 1 else None,
    }


def conversation_context(user, promotion_request, comment_form=None, edit_form=None) -> dict:
    """The threads the request shows, what ``user`` may do in them, and a form that came back
    with an error (bound to the thread or comment it was for)."""
    threads = list(selectors.conversation(request=promotion_request))
    may_comment = permissions.can(user, permissions.COMMENT, promotion_request)
    resolvable = permissions.threads_to_resolve(user, threads) if may_comment else set()
    for thread in threads:
        thread.may_resolve = thread.pk in resolvable
        thread.carried = thread.started_on_id != promotion_request.pk
        for comment in thread.comments.all():
            comment.may_edit = comment.author_id == user.pk and permissions.can(user, permissions.EDIT_COMMENT, comment)
    # The thread a reply that came back with an error was for (None: the new-thread form).
    reply_to = None
    if comment_form is not None and comment_form.is_bound:
        raw = comment_form.data.get("thread", "")
        reply_to = next((thread.pk for thread in threads if str(thread.pk) == raw), None)
    return {
        "reply_to": reply_to,
        "threads": threads,
        "open_threads": sum(1 for thread in threads if not thread.is_resolved),
        "may_comment": may_comment,
        "comment_form": comment_form,
        "blank_comment_form": CommentForm(),
        "edit_form": edit_form,
    }


def waiver_flags(user, promotion_request, steps) -> None:
    """Mark on each check run and waiver of ``steps`` what ``user`` may do with it on the page:
    ask for a waiver of a failed check (``may_request_waiver``), grant or refuse one (``may_decide``)."""
    failed_back = promotion_request.status == PromotionRequest.Status.CHECKS_FAILED
    for step in steps:
        if step.kind != StepState.Kind.CHECKS or not step.config.get("waivable_by"):
            continue
        for run in step.check_runs.all():
            live = [w for w in run.waivers.all() if w.status != w.Status.REFUSED]
            run.may_request_waiver = (
                failed_back
                and run.status in CheckRun.NOT_PASSED
                and not live
                and permissions.can(user, permissions.REQUEST_WAIVER, run)
            )
            for waiver in run.waivers.all():
                waiver.may_decide = (
                    failed_back
                    and waiver.status == waiver.Status.REQUESTED
                    and permissions.can(user, permissions.DECIDE_WAIVER, waiver)
                )


def emergency_context(user, promotion_request, emergency_form=None) -> dict:
    """The request's emergency releases, and what ``user`` may do: ask for one (break-glass), or
    agree to / refuse the one asked for."""
    emergencies = selectors.emergencies_of(request=promotion_request)
    live = next((e for e in emergencies if e.status != e.Status.REFUSED), None)
    waiting = promotion_request.status == PromotionRequest.Status.AWAITING_REVIEW
    if live is not None:
        live.may_decide = (
            waiting
            and live.status == live.Status.REQUESTED
            and permissions.can(user, permissions.SECOND_EMERGENCY, live)
        )
    return {
        "emergencies": emergencies,
        "emergency": live,
        "may_break_glass": waiting and live is None and permissions.can(user, permissions.EMERGENCY, promotion_request),
        "emergency_form": emergency_form or EmergencyRequestForm(),
    }


def page_again(request, promotion_request, **forms):
    """The request page again with the form that failed, its errors and the text as typed (400)."""
    return render(request, "requests/detail.html", page_context(request, promotion_request, **forms), status=400)


def page_context(
    request, promotion_request, form=None, withdraw_form=None, comment_form=None, edit_form=None, emergency_form=None
):
    steps = list(promotion_request.steps.all())
    waiver_flags(request.user, promotion_request, steps)
    deciding = steps_to_decide(request.user, promotion_request)
    # A request sent back and answered by a fixed version links forward and offers no second fix.
    answered_by = selectors.answered_by(request=promotion_request) if not promotion_request.is_open else None
    talk = conversation_context(request.user, promotion_request, comment_form, edit_form)
    evidence = evidence_context(promotion_request)
    return {
        "req": promotion_request,
        "version": promotion_request.version,
        "model": promotion_request.model,
        "steps": steps,
        "active_steps": [s for s in steps if s.is_active] if promotion_request.is_open else [],
        "live": any(s.status == StepState.Status.RUNNING for s in steps),
        "timeline": selectors.request_timeline(request=promotion_request),
        "may_decide": bool(deciding),
        "deciding": deciding,
        "answered_by": answered_by,
        "may_fix": promotion_request.status in selectors.SENT_BACK
        and answered_by is None
        and registry_permissions.can(request.user, registry_permissions.REGISTER_VERSION, promotion_request.model),
        "form": form or DecisionForm(),
        "may_withdraw": promotion_request.is_open
        and permissions.can(request.user, permissions.WITHDRAW, promotion_request),
        "withdraw_form": withdraw_form or WithdrawForm(),
        "claim_hours": settings.SIGNOFF_CLAIM_HOURS,
        "production_seen": services.production_number(promotion_request.model_id),
        "changes": selectors.changes_since(request=promotion_request),
        **talk,
        **evidence,
        **emergency_context(request.user, promotion_request, emergency_form),
        "verdict": verdict_line(promotion_request, evidence["evidence"], open_threads=talk["open_threads"]),
    }


@login_required
def request_detail(request, pk):
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    return render(request, "requests/detail.html", page_context(request, promotion_request))


@login_required
def request_progress(request, pk):
    """The steps and checks of a request, polled by the page while background work runs."""
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    if not request.htmx:  # a person who opens the partial's address gets the whole page
        return redirect(promotion_request)
    steps = list(promotion_request.steps.all())
    return render(
        request,
        "requests/_progress.html",
        {
            "req": promotion_request,
            "steps": steps,
            "live": any(s.status == StepState.Status.RUNNING for s in steps),
        },
    )


@login_required
@require_POST
def request_decide(request, pk):
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return page_again(request, promotion_request, form=form)
    seen = None
    if form.cleaned_data["step"]:
        seen = selectors.request_step(promotion_request, form.cleaned_data["step"])
        if seen is None:  # never fall back to another step than the one the reviewer saw
            form.add_error(None, "This request has no such step; reload the page.")
            return page_again(request, promotion_request, form=form)
    try:
        services.step_decide(
            request=promotion_request,
            actor=request.user,
            step=seen,
            verdict=form.cleaned_data["verdict"],
            comment=form.cleaned_data["comment"],
            production_seen=form.cleaned_data["production_seen"],
            evidence_seen=form.cleaned_data["evidence_digest"],
        )
    except services.InvalidTransition as error:
        messages.warning(request, str(error))
        return redirect(promotion_request)
    except ValidationError as error:
        form_errors_from(form, error)
        return page_again(request, promotion_request, form=form)
    messages.success(request, "Your decision was recorded.")
    return redirect(promotion_request)


@login_required
@require_POST
def request_withdraw(request, pk):
    promotion_request = selectors.request_get(user=request.user, pk=pk)
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            services.promotion_request_withdraw(
                request=promotion_request, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except services.InvalidTransition as error:
            messages.warning(request, str(error))
            return redirect(promotion_request)
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(request, f"Request #{promotion_request.pk} is withdrawn; the reviewers are told.")
            return redirect(promotion_request)
    return page_again(request, promotion_request, withdraw_form=form)


def _claim_action(request, pk, service, done: str):
    """Claim or release a step of the request, named in the form as in the API."""
    promotion_request = selectors.request_for_decision(user=request.user, pk=pk)
    step = selectors.request_step(promotion_request, request.POST.get("step", "")[:50])
    if step is None:
        messages.warning(request, "This request has no such step; reload the page.")
        return redirect(promotion_request)
    try:
        service(step=step, actor=request.user)
    except services.InvalidTransition as error:
        messages.warning(request, str(error))
    else:
        messages.success(request, done.format(step=step.title))
    return redirect(promotion_request)


@login_required
@require_POST
def request_claim(request, pk):
    return _claim_action(request, pk, services.step_claim, "You are reviewing '{step}'; the others see it.")


@login_required
@require_POST
def request_release(request, pk):
    return _claim_action(request, pk, services.step_release, "You no longer hold '{step}'.")
