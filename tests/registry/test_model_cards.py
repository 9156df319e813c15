"""Model cards: written at registration or edited before submission (page and API), frozen with
the submitted version, rendered as safe Markdown, and checked by the ``model_card`` check."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from approvals.definitions import DefinitionError, parse_definition
from audit.models import AuditEvent
from evidence.checks.builtin import ModelCardComplete
from evidence.checks.inputs import check_input
from registry.models import ModelVersion
from tests import factories

CARD = {
    "intended_use": "Scores **loan applications** for underwriters.",
    "training_data": "Applications 2024-01 to 2026-06, 1.2M rows.",
    "evaluation_data": "holdout-2026q4",
    "limitations": "Thin-file applicants are under-represented.",
    "owner": "Risk analytics",
    "risk_tier": "high",
}


def test_a_version_is_registered_with_its_card_through_the_api(people, api, risk_model):
    body = {
        "artifact": SimpleUploadedFile("m.joblib", factories.artifact().read()),
        "metrics": json.dumps({"accuracy": 0.9}),
        "model_card": json.dumps(CARD),
    }
    response = api(people.dana).post("/api/models/credit-risk/versions/", body, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["model_card"] == CARD


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ({"intended_use": "x", "favourite_colour": "blue"}, "Unknown model card fields: favourite_colour"),
        ({"risk_tier": "extreme"}, "Choose one of low, medium, high"),
        ({"owner": 42}, "Must be text"),
        ({"limitations": "a\x00b"}, "NUL"),
        ({"limitations": "x" * 10_001}, "At most 10,000 characters"),
        (["not", "an", "object"], "must be an object"),
    ],
)
def test_a_bad_card_is_refused_saying_why_and_nothing_is_written(people, api, risk_model, card, message):
    version = factories.make_version(model=risk_model, by=people.dana)
    response = api(people.dana).patch(
        f"/api/models/credit-risk/versions/{version.number}/", {"model_card": card}, format="json"
    )
    assert response.status_code == 400 and message in json.dumps(response.json(), ensure_ascii=False)
    version.refresh_from_db()
    assert version.model_card == {}


def test_the_card_is_edited_until_submission_then_frozen(people, api, risk_model, submit):
    version = factories.make_version(model=risk_model, by=people.dana)
    url = f"/api/models/credit-risk/versions/{version.number}/"
    assert api(people.mona).patch(url, {"model_card": CARD}, format="json").status_code == 403
    assert api(people.gina).patch(url, {"model_card": CARD}, format="json").status_code == 404
    response = api(people.dana).patch(url, {"model_card": CARD}, format="json")
    assert response.status_code == 200 and response.json()["model_card"] == CARD
    assert AuditEvent.objects.filter(verb="version.card_updated", model=risk_model).count() == 1

    submit(version, people.dana)
    frozen = api(people.dana).patch(url, {"model_card": {"owner": "someone else"}}, format="json")
    assert frozen.status_code == 400 and "register a fixed version" in json.dumps(frozen.json())
    assert ModelVersion.objects.get(pk=version.pk).model_card == CARD


def test_the_version_page_renders_the_card_as_safe_markdown_and_edits_it(client, people, risk_model):
    version = factories.make_version(model=risk_model, by=people.dana)
    client.force_login(people.dana)
    evil = {
        **CARD,
        "limitations": "<script>alert(1)</script> [click](javascript:alert(1)) <img src=x onerror=alert(1)>",
    }
    fields = {f"card_{key}": value for key, value in evil.items()}
    response = client.post(f"/models/credit-risk/versions/{version.number}/card/", fields)
    assert response.status_code == 302

    page = client.get(f"/models/credit-risk/versions/{version.number}/").content.decode()
    card = page[page.index('id="model-card"') : page.index("Edit the model card")]
    assert "<strong>loan applications</strong>" in card
    # Raw HTML and unsafe links stay text: shown escaped, never markup or a link.
    assert "<script" not in card and "<img" not in card and 'href="javascript' not in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    client.force_login(people.mona)
    assert "Edit the model card" not in client.get(f"/models/credit-risk/versions/{version.number}/").content.decode()
    assert client.post(f"/models/credit-risk/versions/{version.number}/card/", fields).status_code == 403


def test_the_model_card_check_names_the_missing_fields(people, risk_model):
    check = ModelCardComplete()
    empty = factories.make_version(model=risk_model, by=people.dana)
    outcome = check.run(check_input(empty), {"require": ["intended_use", "owner", "risk_tier"]})
    assert not outcome.passed and outcome.details["missing"] == ["intended_use", "owner", "risk_tier"]
    assert "lacks intended use, owner, risk tier" in outcome.summary

    complete = factories.make_version(model=risk_model, by=people.dana, model_card=CARD)
    assert check.run(check_input(complete), {}).passed
    blank_owner = factories.make_version(model=risk_model, by=people.dana, model_card={**CARD, "owner": "   "})
    assert check.run(check_input(blank_owner), {}).details["missing"] == ["owner"]


def test_the_model_card_check_validates_its_configuration():
    text = (
        "name: x\nsteps:\n  - name: checks\n    type: checks\n    checks:\n"
        "      - {type: model_card, require: [mood]}\n"
    )
    with pytest.raises(DefinitionError) as error:
        parse_definition(text)
    assert "'require' names unknown fields: mood" in str(error.value) and "line 6" in str(error.value)
