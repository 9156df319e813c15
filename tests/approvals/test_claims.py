"""A reviewer claims a waiting step ("mona is reviewing"): only someone who may decide it can, the
others see it on the request page, the queue and the API, it lapses by itself, only its holder
releases it, and each claim and release is audited. A claim decides nothing."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from approvals import services
from audit.models import AuditEvent


def review(request):
    return request.steps.get(name="manager_review")


def test_a_claim_is_seen_by_the_others_and_released_by_its_holder(people, awaiting_manager, client):
    step = services.step_claim(step=review(awaiting_manager), actor=people.mona)
    assert step.claim_holder == people.mona

    client.force_login(people.mike)  # the other manager
    page = client.get(f"/requests/{awaiting_manager.pk}/").content.decode()
    assert "<strong>mona</strong> is reviewing this step" in page
    assert "<strong>mona</strong> is reviewing this; you may still decide." in page
    assert "(mona reviewing)" in client.get("/requests/").content.decode()
    assert "<strong>mona</strong> is reviewing Manager review" in page  # the timeline
    with pytest.raises(services.InvalidTransition, match="mona is reviewing 'Manager review' until"):
        services.step_claim(step=review(awaiting_manager), actor=people.mike)
    with pytest.raises(services.InvalidTransition, match="You hold no claim"):
        services.step_release(step=review(awaiting_manager), actor=people.mike)

    services.step_release(step=review(awaiting_manager), actor=people.mona)
    assert review(awaiting_manager).claim_holder is None
    verbs = AuditEvent.objects.filter(request=awaiting_manager, verb__startswith="step.c").values_list(
        "verb", "actor__username"
    )
    assert list(verbs) == [("step.claimed", "mona")]
    assert AuditEvent.objects.filter(request=awaiting_manager, verb="step.released", actor=people.mona).exists()


@pytest.mark.parametrize("who", ["dana", "quinn", "nora", "gary"])
def test_only_someone_who_may_decide_the_step_claims_it(people, awaiting_manager, who):
    with pytest.raises(PermissionDenied):
        services.step_claim(step=review(awaiting_manager), actor=getattr(people, who))
    assert review(awaiting_manager).claimed_by is None


def test_a_claim_lapses_by_itself_and_decides_nothing(people, awaiting_manager, background):
    services.step_claim(step=review(awaiting_manager), actor=people.mona)
    step = review(awaiting_manager)
    step.claimed_until = timezone.now() - timedelta(seconds=1)
    step.save(update_fields=["claimed_until"])
    assert review(awaiting_manager).claim_holder is None
    services.step_claim(step=review(awaiting_manager), actor=people.mike)  # free again
    with background():  # mona may still decide while mike holds the claim
        services.step_decide(request=awaiting_manager, actor=people.mona, verdict="approve", comment="Fine.")
    assert review(awaiting_manager).claim_holder is None  # decided: nobody is reviewing it now


def test_claiming_over_the_api(people, awaiting_manager, api):
    url = f"/api/requests/{awaiting_manager.pk}/claim/"
    claimed = api(people.mona).post(url, {}, format="json")
    assert claimed.status_code == 200, claimed.content
    assert claimed.json()["name"] == "manager_review" and claimed.json()["claimed_by"] == "mona"
    assert api(people.mike).post(url, {"step": "manager_review"}, format="json").status_code == 409
    assert api(people.quinn).post(url, {"step": "manager_review"}, format="json").status_code == 403
    assert api(people.mona).post(url, {"step": "nope"}, format="json").status_code == 400
    assert api(people.gina).post(url, {}, format="json").status_code == 404
    detail = api(people.mike).get(f"/api/requests/{awaiting_manager.pk}/").json()
    assert next(s for s in detail["steps"] if s["name"] == "manager_review")["claimed_by"] == "mona"
    released = api(people.mona).post(f"/api/requests/{awaiting_manager.pk}/release/", {}, format="json")
    assert released.status_code == 200 and released.json()["claimed_by"] is None


def test_the_page_buttons_claim_and_release(people, awaiting_manager, client):
    client.force_login(people.mona)
    step = review(awaiting_manager)
    page = client.get(f"/requests/{awaiting_manager.pk}/").content.decode()
    assert "I&#x27;m reviewing this" in page or "I'm reviewing this" in page
    response = client.post(f"/requests/{awaiting_manager.pk}/claim/", {"step": step.pk}, follow=True)
    assert "You are reviewing &#x27;Manager review&#x27;" in response.content.decode()
    assert review(awaiting_manager).claim_holder == people.mona
    client.post(f"/requests/{awaiting_manager.pk}/release/", {"step": step.pk})
    assert review(awaiting_manager).claim_holder is None
    bad = client.post(f"/requests/{awaiting_manager.pk}/claim/", {"step": "1e400"}, follow=True)
    assert "no such step" in bad.content.decode() and review(awaiting_manager).claimed_by is None
