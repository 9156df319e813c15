"""The audit log's vocabulary (``audit.verbs.VERBS``, the search's list of kinds) names every verb
the product writes: the flows below write most of them, and each must be in it."""

from datetime import timedelta

from django.utils import timezone

from approvals import conversation, delegations, emergency, services, waivers
from approvals.models import CheckRun
from audit.models import AuditEvent
from audit.verbs import VERBS
from notifications import preferences
from tests import factories
from tests.approvals.test_waivers import WAIVABLE


def test_every_verb_the_flows_write_is_in_the_vocabulary(people, risk_model, submit, background, use_workflow):
    use_workflow(WAIVABLE)
    # a whole life cycle, with a conversation, a claim and a rollback
    first = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    comment = conversation.comment_post(request=first, actor=people.mona, body="@dana which hold-out?")
    conversation.comment_edit(comment=comment, actor=people.mona, body="@dana which hold-out, exactly?")
    conversation.thread_set_resolved(thread=comment.thread, actor=people.mona, resolved=True, request=first)
    step = first.steps.get(name="manager_review")
    services.step_claim(step=step, actor=people.mona)
    services.step_release(step=step, actor=people.mona)
    for actor in (people.mona, people.quinn, people.ivan):
        first.refresh_from_db()
        with background():
            services.step_decide(request=first, actor=actor, verdict="approve", comment="ok")
    second = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    for actor in (people.mona, people.quinn, people.ivan):
        second.refresh_from_db()
        with background():
            services.step_decide(request=second, actor=actor, verdict="approve", comment="ok")
    with background():
        services.model_rollback(model=risk_model, actor=people.ivan, comment="Latency doubled.")
    # sent back, withdrawn, failed checks and a waiver, an emergency release
    third = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    with background():
        services.step_decide(request=third, actor=people.mona, verdict="request_changes", comment="Card.")
    fourth = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    services.promotion_request_withdraw(request=fourth, actor=people.dana, reason="Wrong artifact.")
    failed = submit(factories.make_version(model=risk_model, by=people.dana, accuracy=0.5), people.dana)
    run = CheckRun.objects.get(step__request=failed, check_type="metric_threshold")
    with background():
        waiver = waivers.waiver_request(check_run=run, actor=people.dana, reason="Old labels.")
        waivers.waiver_decide(waiver=waiver, actor=people.mona, grant=True)
    urgent = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    with background():
        asked = emergency.emergency_request(request=urgent, actor=people.ivan, justification="Outage.")
        emergency.emergency_decide(emergency=asked, actor=people.mona, release=True)
    # out of office, e-mail settings
    now = timezone.now()
    given = delegations.delegation_create(
        principal=people.mona, delegate=people.mike, starts_at=now, ends_at=now + timedelta(days=3),
        reason="Holiday.", actor=people.mona,
    )  # fmt: skip
    delegations.delegation_revoke(delegation=given, actor=people.mona)
    preferences.email_kinds_set(user=people.mona, muted={"digest"})

    written = set(AuditEvent.objects.values_list("verb", flat=True))
    assert len(written) > 35
    assert written <= set(VERBS), sorted(written - set(VERBS))
