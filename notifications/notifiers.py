"""One notifier per event (wagtail's admin mail): who is told, what the templates are given, and
the templates themselves (``templates/emails/<event>/subject.txt``, ``body.txt``, ``body.html``).
The actor of the change and people without an e-mail address are never told."""

from abc import ABC, abstractmethod

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, prefetch_related_objects

from approvals import email_actions, permissions, selectors
from approvals.models import CheckRun, Comment, Decision, StepState
from approvals.signals import RequestEvent
from approvals.verdict import verdict_line
from notifications.models import MutedKind, NotificationDelivery
from registry import permissions as registry_permissions
from registry.models import ModelVersion
from registry.roles import holders


class Notifier(ABC):
    """What every notifier shares; a subclass names its ``event`` and its ``people``."""

    event = ""

    @abstractmethod
    def people(self, notification) -> list:
        """Who is told (before the actor and people without an address are left out)."""

    def extra_context(self, notification) -> dict:
        return {}

    def recipients(self, notification) -> list:
        """The people told, less the actor, people without an address and those who muted this kind."""
        unique = {user.pk: user for user in self.people(notification) if user.is_active and user.email}
        unique.pop(notification.actor_id, None)
        if unique:
            muted = MutedKind.objects.filter(kind=self.event, user_id__in=list(unique)).values_list(
                "user_id", flat=True
            )
            for user_id in muted:
                unique.pop(user_id, None)
        return list(unique.values())

    def context(self, notification, recipient) -> dict:
        request = notification.request
        return {
            "notification": notification,
            "request": request,
            "version": request.version,
            "model": request.model,
            "step": notification.step,
            "decision": notification.decision,
            "actor": notification.actor,
            "failing_checks": [],
            "restored": None,
            "recipient": recipient,
            "request_url": f"{settings.SIGNOFF_BASE_URL}{request.get_absolute_url()}",
            "model_url": f"{settings.SIGNOFF_BASE_URL}{request.model.get_absolute_url()}",
            "settings_url": f"{settings.SIGNOFF_BASE_URL}/profile/email/",
            **self.shared_context(notification),
        }

    def shared_context(self, notification) -> dict:
        """``extra_context``, read once per notification however many people it tells."""
        shared = notification.__dict__.get("_signoff_shared_context")
        if shared is None:
            shared = notification.__dict__["_signoff_shared_context"] = self.extra_context(notification)
        return shared

    @property
    def templates(self) -> str:
        return f"emails/{self.event}"


class ReviewRequested(Notifier):
    """Everyone who may decide the step, as the permission policy says (as when it started)."""

    event = RequestEvent.REVIEW_REQUESTED

    def people(self, notification):
        asked, may_decide_now = permissions.deciders(notification.step)
        notification.__dict__["_signoff_may_decide_now"] = may_decide_now
        return asked

    def extra_context(self, notification):
        """Where the request stands and its metrics against production, so the e-mail alone says
        whether it is worth opening now."""
        request = notification.request
        prefetch_related_objects([request], "steps__check_runs", "steps__decisions")
        runs = [run for step in request.steps.all() for run in step.check_runs.all()]
        # only a check that did not pass can be waived: no query when every one passed
        prefetch_related_objects([run for run in runs if run.status in CheckRun.NOT_PASSED], "waivers")
        evidence = selectors.request_evidence(request=request)
        changed = [row for row in evidence["metrics"] if row["candidate"].get("value") is not None]
        return {"standing": verdict_line(request, evidence), "evidence": evidence, "metric_rows": changed[:8]}

    def context(self, notification, recipient):
        return {**super().context(notification, recipient), "actions": decision_links(notification, recipient)}


def decision_links(notification, recipient) -> list[tuple[str, str]]:
    """The recipient's own decision links for the notification's step, signed for them (opening
    one decides nothing), when they may decide it now; none otherwise. Who may was read with the
    recipients when they were (``permissions.deciders``); otherwise it is asked now."""
    step = notification.step
    if step.status != StepState.Status.WAITING:
        return []
    may_decide_now = notification.__dict__.get("_signoff_may_decide_now")
    if may_decide_now is None:
        may = permissions.can(recipient, permissions.DECIDE, step)
    else:
        may = recipient.pk in may_decide_now
    if not may:
        return []
    base = f"{settings.SIGNOFF_BASE_URL}{notification.request.get_absolute_url()}act/?t="
    return [
        (Decision.Verdict(verdict).label, base + email_actions.action_token(user=recipient, step=step, verdict=verdict))
        for verdict in email_actions.VERDICTS
    ]


class DecisionMade(Notifier):
    event = RequestEvent.DECISION

    def people(self, notification):
        return [notification.request.submitted_by]


class ChecksFailed(Notifier):
    event = RequestEvent.CHECKS_FAILED

    def people(self, notification):
        return [notification.request.submitted_by]

    def extra_context(self, notification):
        step = notification.step
        return {"failing_checks": list(step.check_runs.exclude(status=CheckRun.Status.PASSED)) if step else []}


class Deployed(Notifier):
    """The author and everyone who approved a step."""

    event = RequestEvent.DEPLOYED

    def people(self, notification):
        request = notification.request
        approvers = Decision.objects.filter(
            request=request, verdict=Decision.Verdict.APPROVE, step__kind="approval"
        ).values("actor_id")
        return [request.submitted_by, *get_user_model().objects.filter(pk__in=approvers)]


class RolledBack(Notifier):
    """Everyone with access to the model."""

    event = RequestEvent.ROLLED_BACK

    def people(self, notification):
        return list(registry_permissions.users_who_can(registry_permissions.ACT, notification.request.model))

    def extra_context(self, notification):
        model = notification.request.model
        return {"restored": ModelVersion.objects.filter(model=model, stage=ModelVersion.Stage.PRODUCTION).first()}


class Withdrawn(Notifier):
    """Everyone who was asked to decide a step the withdrawal cancelled (as when it started)."""

    event = RequestEvent.WITHDRAWN

    def people(self, notification):
        cancelled = notification.request.steps.filter(status=StepState.Status.CANCELLED)
        return [
            person
            for step in cancelled
            if step.is_human
            for person in permissions.users_who_can(permissions.DECIDE, step, as_started=True)
        ]

    def extra_context(self, notification):
        return {"reason": notification.request.audit_events.filter(verb="request.withdrawn").values_list(
            "comment", flat=True).first() or ""}  # fmt: skip


class Reminder(Notifier):
    """Everyone who may still decide the step: its deadline is near."""

    event = RequestEvent.REMINDER

    def people(self, notification):
        may_decide = list(permissions.users_who_can(permissions.DECIDE, notification.step))
        notification.__dict__["_signoff_may_decide_now"] = {person.pk for person in may_decide}
        return may_decide

    def context(self, notification, recipient):
        return {**super().context(notification, recipient), "actions": decision_links(notification, recipient)}


class Overdue(Reminder):
    """The step's deadline passed: everyone who may still decide it, and the roles and people the
    step escalates to (those with access to the model)."""

    event = RequestEvent.OVERDUE

    def people(self, notification):
        step = notification.step
        may_see = registry_permissions.users_who_can(registry_permissions.ACT, notification.request.model)
        escalated = may_see.filter(
            holders(step.config.get("escalate_to", []), notification.request.model.team_id)
            | Q(username__in=step.config.get("escalate_to_users", []))
        )
        return [*super().people(notification), *escalated]


class WaiverRequested(Notifier):
    """Everyone who may grant or refuse the waiver."""

    event = RequestEvent.WAIVER_REQUESTED

    def people(self, notification):
        return permissions.users_who_may_waive(notification.waiver)

    def extra_context(self, notification):
        return {"waiver": notification.waiver, "check": notification.waiver.check_run}


class WaiverDecided(WaiverRequested):
    """The person who asked for the waiver."""

    event = RequestEvent.WAIVER_DECIDED

    def people(self, notification):
        return [notification.waiver.requested_by]


class EmergencyRequested(Notifier):
    """Everyone who may agree to the emergency release or refuse it."""

    event = RequestEvent.EMERGENCY_REQUESTED

    def people(self, notification):
        return permissions.users_who_may_second(notification.emergency)

    def extra_context(self, notification):
        waiting = notification.request.steps.filter(status=StepState.Status.WAITING).order_by("position")
        return {"emergency": notification.emergency, "waiting_steps": [step.title for step in waiting]}


class EmergencyDecided(Notifier):
    """The person who asked and the submitter; once released, also everyone who was asked to
    decide a step it skipped (they are asked no more) and who may review it afterwards."""

    event = RequestEvent.EMERGENCY_DECIDED

    def people(self, notification):
        emergency = notification.emergency
        people = [emergency.requested_by, notification.request.submitted_by]
        if emergency.status == emergency.Status.RELEASED:
            skipped = notification.request.steps.filter(result__emergency=emergency.pk, kind="approval")
            people += [person for step in skipped for person in permissions.users_who_can(
                permissions.DECIDE, step, as_started=True)]  # fmt: skip
            if emergency.retrospective_id:
                people += permissions.users_who_can(permissions.DECIDE, emergency.retrospective, as_started=True)
        return people

    def extra_context(self, notification):
        return {"emergency": notification.emergency, "retrospective": notification.emergency.retrospective}


class Commented(Notifier):
    """The people in the thread, the submitter and whoever the comment mentions, if they may see
    the model; after an edit, only the people it newly mentions."""

    event = RequestEvent.COMMENTED

    def people(self, notification):
        comment = notification.comment
        may_see = registry_permissions.users_who_can(registry_permissions.ACT, notification.request.model)
        mentioned = Q(pk__in=comment.mentioned.values("pk"))
        if comment.edited_at is not None:
            told = NotificationDelivery.objects.filter(notification__comment=comment).values("user_id")
            return list(may_see.filter(mentioned).exclude(pk__in=told))
        in_thread = Comment.objects.filter(thread_id=comment.thread_id).values("author_id")
        return list(may_see.filter(mentioned | Q(pk__in=in_thread) | Q(pk=notification.request.submitted_by_id)))

    def extra_context(self, notification):
        comment = notification.comment
        url = f"{settings.SIGNOFF_BASE_URL}{comment.get_absolute_url()}"
        reply = Comment.objects.filter(thread_id=comment.thread_id, pk__lt=comment.pk).exists()
        return {"comment": comment, "reply": reply, "comment_url": url, "request_url": url}

    def context(self, notification, recipient):
        context = super().context(notification, recipient)
        context["mentioned"] = any(person.pk == recipient.pk for person in notification.comment.mentioned.all())
        return context


NOTIFIERS = {
    notifier.event: notifier
    for notifier in (
        ReviewRequested(), DecisionMade(), ChecksFailed(), Deployed(), RolledBack(), Withdrawn(), Commented(),
        Reminder(), Overdue(), WaiverRequested(), WaiverDecided(), EmergencyRequested(), EmergencyDecided(),
    )
}  # fmt: skip


def notifier_for(event: str) -> Notifier:
    try:
        return NOTIFIERS[event]
    except KeyError:
        raise ValueError(f"Unknown notification event {event!r}") from None
