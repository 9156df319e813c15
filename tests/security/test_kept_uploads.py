"""A kept-upload token, even one forged with the secret key, names only its owner's own pending
upload (issue 14, finding 7)."""

from django.core import signing

from registry import kept_uploads
from tests import factories


def forged(path, user, model):
    return signing.dumps({"path": path, "name": "x.bin", "user": user.pk, "model": model.pk}, salt=kept_uploads.SALT)


def test_a_forged_token_cannot_name_another_teams_stored_file(people, risk_model):
    growth_model = factories.make_model(team=people.growth, by=people.gina, name="growth-model")
    theirs = factories.make_version(model=growth_model, by=people.gina)
    for path in (
        theirs.artifact.name,
        f"pending/{people.gina.pk}/{'a' * 32}.bin",
        "pending/../" + theirs.artifact.name,
    ):
        assert kept_uploads.take(forged(path, people.dana, risk_model), user=people.dana, model=risk_model) is None


def test_the_owners_own_kept_upload_is_taken(people, risk_model):
    token = kept_uploads.keep(factories.artifact(), user=people.dana, model=risk_model)
    kept = kept_uploads.take(token, user=people.dana, model=risk_model)
    assert kept is not None and kept.read()
    kept_uploads.discard(kept)
    assert kept_uploads.take(token, user=people.mona, model=risk_model) is None
