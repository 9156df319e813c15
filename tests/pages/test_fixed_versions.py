"""Registering a version in the page without typing JSON, and the author's way back: "Register a
fixed version", prefilled, whose request links to the one it answers."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from approvals import services
from registry.models import ModelVersion
from tests import factories


def rows(**fields):
    data = {
        "artifact": SimpleUploadedFile("model.joblib", factories.artifact().read()),
        "metric_name_0": "accuracy", "metric_value_0": "0.91",
        "metric_name_1": "roc_auc", "metric_value_1": "0.95",
        "param_name_0": "C", "param_value_0": "0.5",
        "param_name_1": "penalty", "param_value_1": "l2",
        "param_name_2": "fit_intercept", "param_value_2": "true",
        "dataset_uri": "s3://d/x.parquet",
        "card_intended_use": "Underwriting.", "card_risk_tier": "medium",
    }  # fmt: skip
    data.update(fields)
    return data


def test_metric_and_parameter_rows_become_the_versions_metrics_and_params(client, people, risk_model):
    client.force_login(people.dana)
    response = client.post("/models/credit-risk/versions/new/", rows())
    assert response.status_code == 302, response.content.decode()[-2000:]
    version = ModelVersion.objects.get(model=risk_model)
    assert version.metrics == {"accuracy": 0.91, "roc_auc": 0.95}
    assert version.params == {"C": 0.5, "penalty": "l2", "fit_intercept": True}
    assert version.model_card == {"intended_use": "Underwriting.", "risk_tier": "medium"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric_name_0": "", "metric_value_0": "0.9"}, "Name this value."),
        ({"metric_value_1": ""}, "Give a value for roc_auc."),
        ({"metric_name_1": "accuracy"}, "accuracy is given twice."),
        ({"metric_value_0": "1e400"}, "Enter a number."),
        ({"metric_value_0": "high"}, "Enter a number."),
        (
            {"metric_name_0": "", "metric_value_0": "", "metric_name_1": "", "metric_value_1": ""},
            "Give at least one metric",
        ),
        ({"card_risk_tier": "extreme"}, "Select a valid choice"),
        ({"card_owner": "a\x00b"}, "NUL"),
    ],
)
def test_bad_rows_are_shown_on_the_form_and_nothing_is_written(client, people, risk_model, fields, message):
    client.force_login(people.dana)
    response = client.post("/models/credit-risk/versions/new/", rows(**fields))
    assert response.status_code == 400 and message in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_a_request_sent_back_offers_a_fixed_version_prefilled_that_links_back(client, people, risk_model, submit):
    card = {"intended_use": "Underwriting.", "owner": "Risk analytics"}
    first = factories.make_version(model=risk_model, by=people.dana, params={"C": 1.0, "solver": "lbfgs"},
                                   model_card=card, code_commit="4b1e9d0")  # fmt: skip
    request = submit(first, people.dana)
    services.step_decide(request=request, actor=people.mona, verdict="request_changes", comment="Calibrate it.")

    client.force_login(people.dana)
    dashboard = client.get("/").content.decode()
    assert 'data-testid="sent-back"' in dashboard and f"?from={first.number}" in dashboard
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert "Register a fixed version" in page
    client.force_login(people.mona)  # reviewers are not offered the author's way back
    assert "Register a fixed version" not in client.get(f"/requests/{request.pk}/").content.decode()

    client.force_login(people.dana)
    form = client.get(f"/models/credit-risk/versions/new/?from={first.number}").content.decode()
    assert "Register a fixed version of credit-risk" in form
    assert 'value="solver"' in form and 'value="lbfgs"' in form and 'value="4b1e9d0"' in form
    assert "Underwriting." in form and 'value="accuracy"' in form
    response = client.post(
        "/models/credit-risk/versions/new/",
        rows(derived_from=first.number, card_intended_use="Underwriting.", card_owner="Credit risk analytics"),
    )
    fixed = ModelVersion.objects.get(model=risk_model, number=first.number + 1)
    assert response.url == fixed.get_absolute_url() and fixed.derived_from == first

    resubmitted = submit(fixed, people.dana)
    assert resubmitted.resubmission_of == request
    client.force_login(people.mona)
    page = client.get(f"/requests/{resubmitted.pk}/").content.decode()
    assert f'Resubmission of <a href="/requests/{request.pk}/">#{request.pk}</a>' in page
    assert f"?v={first.number}&amp;v={fixed.number}&amp;baseline={first.number}" in page
    # what changed since the version mona sent back, without leaving the page
    assert f"What changed since v{first.number}" in page and "ended “Changes requested”" in page
    assert "<dt>Parameter: C</dt><dd><del>1.0</del> → <ins>0.5</ins></dd>" in page
    assert '<del>4b1e9d0</del> → <span class="muted">none</span>' in page  # the commit the fixed version did not name
    assert "<del>Risk</del><ins>Credit risk</ins> analytics" in page  # the card, word by word
    client.force_login(people.dana)
    assert 'data-testid="sent-back"' not in client.get("/").content.decode()  # answered
    old = client.get(f"/requests/{request.pk}/").content.decode()  # links forward, offers no second fix
    assert f'Answered by <a href="/requests/{resubmitted.pk}/">#{resubmitted.pk}</a>' in old
    assert "Register a fixed version" not in old


def test_a_fixed_version_cannot_claim_another_models_version(client, people, risk_model, growth_model):
    other = factories.make_version(model=growth_model, by=people.gina)
    client.force_login(people.dana)
    assert client.get(f"/models/churn/versions/new/?from={other.number}").status_code == 404
    assert client.get("/models/credit-risk/versions/new/?from=../1").status_code == 400


def test_the_model_page_shows_metric_trends_the_stage_timeline_and_compares(client, people, risk_model):
    from tests.factories import make_production_history

    make_production_history(model=risk_model, by=people.dana)
    client.force_login(people.mona)
    page = client.get("/models/credit-risk/").content.decode()
    assert page.count('<svg class="trend"') == 2  # accuracy and f1
    assert 'data-testid="stage-timeline"' in page and "production" in page
    assert 'form="compare-form"' in page and 'action="/models/credit-risk/compare/"' in page


def test_the_uploaded_file_is_kept_when_the_form_has_errors(client, people, risk_model):
    import re

    from django.core.files.storage import default_storage

    from registry.roles import DATA_SCIENTIST

    content = factories.artifact().read()
    client.force_login(people.dana)
    first = client.post(
        "/models/credit-risk/versions/new/",
        rows(artifact=SimpleUploadedFile("credit.joblib", content), metric_value_0="high"),
    )
    page = first.content.decode()
    assert first.status_code == 400 and "Enter a number." in page and "credit.joblib" in page
    token = re.search(r'name="kept_artifact" value="([^"]+)"', page).group(1)
    assert not ModelVersion.objects.exists()

    dora = factories.make_user("dora", DATA_SCIENTIST, team=people.risk)
    client.force_login(dora)  # the token is dana's alone
    stolen = client.post("/models/credit-risk/versions/new/", rows(artifact="", kept_artifact=token))
    assert stolen.status_code == 400 and "This field is required." in stolen.content.decode()
    forged = client.post("/models/credit-risk/versions/new/", rows(artifact="", kept_artifact=token[:-2] + "xx"))
    assert forged.status_code == 400 and not ModelVersion.objects.exists()

    client.force_login(people.dana)
    second = client.post("/models/credit-risk/versions/new/", rows(artifact="", kept_artifact=token))
    assert second.status_code == 302
    version = ModelVersion.objects.get(model=risk_model)
    with version.artifact.open("rb") as stored:
        assert stored.read() == content
    assert re.search(r"/credit(_\w+)?\.joblib$", version.artifact.name)  # its name kept (storage may suffix it)
    # The kept copy is gone (that file: ids are reused on SQLite, so other tests' files may share
    # the folder).
    from django.core import signing

    from registry.kept_uploads import SALT

    assert not default_storage.exists(signing.loads(token, salt=SALT)["path"])


def test_kept_uploads_nobody_can_take_any_more_are_swept(people, risk_model):
    import os
    import time

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from registry import kept_uploads
    from registry.tasks import sweep_kept_uploads

    stale, fresh = (
        kept_uploads.keep(ContentFile(factories.artifact().read(), name=name), user=people.dana, model=risk_model)
        for name in ("stale.joblib", "fresh.joblib")
    )
    paths = [kept_uploads.signing.loads(token, salt=kept_uploads.SALT)["path"] for token in (stale, fresh)]
    two_hours_ago = time.time() - 7200
    os.utime(default_storage.path(paths[0]), (two_hours_ago, two_hours_ago))

    assert sweep_kept_uploads() == 1  # the expired one only
    assert not default_storage.exists(paths[0]) and default_storage.exists(paths[1])
    assert kept_uploads.take(fresh, user=people.dana, model=risk_model) is not None
