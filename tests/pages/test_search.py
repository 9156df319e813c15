"""Search and sort on the queue, the model list and the audit log: parts of names match, the
log's events come from a list, days bound it; a malformed query is a 400 saying which."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from tests import factories


@pytest.fixture
def two_models(people, risk_model, submit):
    fraud = factories.make_model(team=people.risk, by=people.dana, name="fraud-detection")
    first = submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
    second = submit(factories.make_version(model=fraud, by=people.dana), people.dana)
    return first, second


def rows(html: str, marker: str) -> int:
    return html.count(marker)


def test_the_queue_searches_parts_of_names_and_ids_and_sorts(two_models, people, client):
    credit, fraud = two_models
    client.force_login(people.mona)
    page = client.get("/requests/?view=all&q=FRAUD").content.decode()
    assert f'href="/requests/{fraud.pk}/"' in page and f'href="/requests/{credit.pk}/"' not in page
    page = client.get(f"/requests/?view=all&q=%23{credit.pk}").content.decode()
    assert f'href="/requests/{credit.pk}/"' in page and f'href="/requests/{fraud.pk}/"' not in page
    page = client.get("/requests/?view=all&q=dan").content.decode()  # the submitter
    assert f'href="/requests/{credit.pk}/"' in page and f'href="/requests/{fraud.pk}/"' in page
    newest = client.get("/requests/?view=all").content.decode()
    oldest = client.get("/requests/?view=all&sort=oldest").content.decode()
    by_model = client.get("/requests/?view=all&sort=model").content.decode()
    assert newest.index(f"/requests/{fraud.pk}/") < newest.index(f"/requests/{credit.pk}/")
    assert oldest.index(f"/requests/{credit.pk}/") < oldest.index(f"/requests/{fraud.pk}/")
    assert by_model.index("credit-risk</a>") < by_model.index("fraud-detection</a>")


def test_the_model_list_searches_and_sorts(two_models, people, client):
    client.force_login(people.mona)
    page = client.get("/models/?q=fraud").content.decode()
    assert "fraud-detection" in page and "credit-risk" not in page
    page = client.get("/models/?q=nothing-like-it").content.decode()
    assert "No model matches" in page
    newest = client.get("/models/?sort=newest").content.decode()
    assert newest.index("fraud-detection") < newest.index("credit-risk")


def test_the_audit_log_searches_by_part_of_a_name_a_kind_and_days(two_models, people, client):
    credit, _fraud = two_models
    client.force_login(people.mona)
    page = client.get("/audit/?model=credit&verb=request.submitted").content.decode()
    assert rows(page, f'href="/requests/{credit.pk}/"') == 1
    assert '<option value="request.submitted" selected>' in page  # the kinds are a list
    old = AuditEvent.objects.filter(request=credit).order_by("pk").first()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert f'href="/requests/{credit.pk}/"' not in client.get(f"/audit/?until={yesterday}").content.decode()
    today = timezone.localdate().isoformat()
    assert f'href="/requests/{credit.pk}/"' in client.get(f"/audit/?since={today}&until={today}").content.decode()
    export = b"".join(client.get(f"/audit/export.csv?model=credit&since={today}").streaming_content).decode()
    assert str(old.pk) in export and "fraud-detection" not in export


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "since=1e400",
        "since=" + "9" * 400,
        "since=2026-12-06&until=2026-12-01",
        "until=9999-12-31",
        "since=0001-01-01",
        "model=%00",
        "actor=" + "a" * 200,
    ],
)
def test_a_malformed_audit_search_is_a_400_naming_it(people, client, query):
    client.force_login(people.mona)
    response = client.get(f"/audit/?{query}")
    text = response.content.decode()
    assert response.status_code == 400 and ("Invalid filter" in text or "NUL character" in text)


@pytest.mark.parametrize("query", ["sort=sideways", "q=" + "x" * 101, "q=%00", "sort=%ED%A0%80"])
def test_a_malformed_queue_or_model_search_is_a_400(people, client, query):
    client.force_login(people.mona)
    assert client.get(f"/requests/?{query}").status_code == 400
    assert client.get(f"/models/?{query}").status_code == 400
