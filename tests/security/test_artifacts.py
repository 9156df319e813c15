"""Uploaded bytes are data, never pages (findings 1 and 2)."""

import pytest
from django.core.files.base import ContentFile

from audit.models import AuditEvent
from tests import factories

# A polyglot: the opening "(" makes it a pickle as far as registration can tell (a bare HTML file
# is refused there: no loader reads it), the rest is a page a browser would run.
HTML = b"(<html><script>fetch('/requests/1/decide/', {method: 'POST'})</script></html>"


def test_a_bare_html_file_is_refused_at_registration(people, risk_model):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="reads this file"):
        factories.make_version(model=risk_model, by=people.dana, artifact=ContentFile(HTML[1:], name="card.html"))


@pytest.fixture
def html_artifact(people, risk_model):
    return factories.make_version(model=risk_model, by=people.dana, artifact=ContentFile(HTML, name="model-card.html"))


def test_no_url_serves_uploaded_files_even_to_their_team(client, people, html_artifact):
    stored = html_artifact.artifact.name  # artifacts/credit-risk/v1/model-card.html
    for url in (f"/media/{stored}", f"/{stored}", f"/static/../media/{stored}"):
        assert client.get(url).status_code == 404, url
        client.force_login(people.mona)
        assert client.get(url).status_code == 404, url
        client.logout()


@pytest.mark.parametrize(
    "url", ["/models/credit-risk/versions/1/artifact/", "/api/models/credit-risk/versions/1/artifact/"]
)
def test_a_download_is_an_opaque_attachment_and_audited(client, people, html_artifact, url):
    client.force_login(people.mona)
    response = client.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == HTML
    assert response["Content-Type"] == "application/octet-stream"
    stored_name = html_artifact.artifact.name.rsplit("/", 1)[-1]
    assert response["Content-Disposition"] == f'attachment; filename="{stored_name}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")
    event = AuditEvent.objects.filter(verb="artifact.downloaded").get()
    assert (event.actor, event.model) == (people.mona, html_artifact.model)


def test_anonymous_and_other_teams_cannot_download(client, api, people, html_artifact):
    page, endpoint = "/models/credit-risk/versions/1/artifact/", "/api/models/credit-risk/versions/1/artifact/"
    assert client.get(page).status_code == 302  # to the login page
    assert api().get(endpoint).status_code in (401, 403)
    client.force_login(people.gary)
    assert client.get(page).status_code == 404
    assert api(people.gary).get(endpoint).status_code == 404
    assert not AuditEvent.objects.filter(verb="artifact.downloaded").exists()


def test_every_page_carries_the_security_headers(client, people, html_artifact):
    client.force_login(people.mona)
    response = client.get("/models/credit-risk/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
