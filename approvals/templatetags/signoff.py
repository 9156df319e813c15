"""Template helpers for Signoff's pages."""

import functools

from django import template

register = template.Library()

AUDIT_PHRASES = {
    "request.submitted": "submitted the version",
    "step.started": "started",
    "checks.passed": "automated checks passed",
    "checks.failed": "automated checks failed",
    "decision.approve": "approved",
    "decision.reject": "rejected",
    "decision.request_changes": "requested changes",
    "version.stage_changed": "moved the version",
    "version.rolled_back": "rolled back",
    "request.completed": "the request is complete",
    "request.rejected": "the request was rejected",
    "request.changes_requested": "the request went back to its author",
    "request.checks_failed": "the request went back to its author",
    "request.failed": "the request failed",
    "request.withdrawn": "withdrew the request",
    "step.cancelled": "cancelled",
    "step.claimed": "is reviewing",
    "step.released": "stopped reviewing",
    "step.assigned": "assigned",
    "thread.resolved": "resolved a thread",
    "thread.reopened": "reopened a thread",
    "comment.posted": "commented",
    "comment.edited": "edited a comment",
    "deployment.failed": "the deployment failed; it waits for the IT engineer again",
    "artifact.downloaded": "downloaded the artifact",
    "model.registered": "registered the model",
    "version.registered": "registered the version",
    "emergency.requested": "asked for an emergency release",
    "emergency.released": "agreed to the emergency release",
    "emergency.refused": "refused the emergency release",
    "step.skipped": "skipped",
    "step.added": "added",
}


@register.filter
def audit_phrase(event) -> str:
    """A reader's phrase for an audit event, e.g. "approved Manager review"."""
    phrase = AUDIT_PHRASES.get(event.verb, event.verb)
    if event.verb in (
        "step.started",
        "step.cancelled",
        "step.skipped",
        "step.added",
        "step.claimed",
        "step.released",
        "decision.approve",
        "decision.reject",
        "decision.request_changes",
    ):
        return f"{phrase} {event.object_repr.split(' (')[0]}"
    if event.verb == "step.assigned":
        return f"assigned {event.object_repr.split(' (')[0]} to {event.data.get('assignee', '')}"
    if event.verb == "version.stage_changed":
        return f"{phrase} to {stage_label(event.to_state)}"
    return phrase


@register.filter
def request_status_label(value: str) -> str:
    """A request's status as the pages name it ("checks_failed" → "Checks failed")."""
    from approvals.models import PromotionRequest

    try:
        return PromotionRequest.Status(value).label
    except ValueError:
        return value


@register.filter
def stage_label(value: str) -> str:
    """A version stage as the pages name it ("qa" → "QA")."""
    from registry.models import ModelVersion

    try:
        return ModelVersion.Stage(value).label
    except ValueError:
        return value


MARKDOWN_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "h3", "h4", "a", "table",
                 "thead", "tbody", "tr", "th", "td", "hr"}  # fmt: skip


@functools.cache
def _markdown():
    """CommonMark with tables and no raw HTML: markdown-it's parser stays linear on hostile
    input (19,000 "[" take 0.3 s where Python-Markdown took a minute) and caps nesting."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "maxNesting": 20}).enable("table")


@register.filter
def markdown_safe(text: str) -> str:
    """Markdown as HTML with only harmless tags (no raw HTML, scripts, images or inline styles;
    links get rel="noopener noreferrer nofollow")."""
    import nh3
    from django.utils.safestring import mark_safe

    html = _markdown().render(text or "")
    cleaned = nh3.clean(html, tags=MARKDOWN_TAGS, attributes={"a": {"href", "title"}},
                        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")  # fmt: skip
    return mark_safe(cleaned)  # noqa: S308 (sanitised by nh3 just above)


@register.filter
def step_panel(step) -> str:
    """The template of the panel of ``step``'s kind (``approvals.engine.KINDS``)."""
    from approvals.engine import kind_of

    return kind_of(step).panel_template


@register.filter
def failures_first(runs) -> list:
    """Check runs with those that did not pass first, each group in its order."""
    runs = list(runs)
    return [run for run in runs if run.status != "passed"] + [run for run in runs if run.status == "passed"]


@register.filter
def passed_count(runs) -> int:
    return sum(run.status == "passed" for run in runs)


@register.filter
def not_passed_count(runs) -> int:
    return sum(run.status != "passed" for run in runs)
