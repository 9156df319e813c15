"""Pages that read at a glance: a deployment reads "Deployed", stages by their names, every moment
with its year and zone."""

import re
from datetime import datetime, timezone

from approvals import services
from registry.templatetags.moments import when
from tests import factories


def test_a_moment_has_its_year_and_zone_and_the_exact_instant_for_machines(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    shown = when(datetime(2026, 12, 6, 11, 2, 57, tzinfo=timezone.utc))
    assert ">6 Dec 2026, 12:02 CET</time>" in shown
    assert 'datetime="2026-12-06T12:02:57+01:00"' in shown
    assert ">6 Dec 2026, 12:02:57 CET</time>" in when(datetime(2026, 12, 6, 11, 2, 57, tzinfo=timezone.utc), "seconds")
    assert when(None) == ""


def test_the_request_page_says_deployed_and_names_stages(people, risk_model, submit, background, client):
    request = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    for person in (people.mona, people.quinn, people.ivan):
        with background():
            services.step_decide(request=request, actor=person, verdict="approve", comment="Fine.")
    client.force_login(people.dana)
    page = client.get(f"/requests/{request.pk}/").content.decode()

    assert re.search(r'verdict-approve">Deployed</span> <strong>ivan</strong>', page)
    assert re.search(r'verdict-approve">Approve</span> <strong>mona</strong>', page)
    assert "moved the version to QA" in page and "moved the version to Production" in page
    assert "to qa" not in page
    assert re.search(r"<time datetime=\"[^\"]+\" title=\"[^\"]+\">\d+ \w{3} \d{4}, \d\d:\d\d:\d\d UTC</time>", page)

    model_page = client.get(f"/models/{risk_model.name}/").content.decode()
    assert "Deployed</span>" in model_page and ": Development → QA" in model_page
