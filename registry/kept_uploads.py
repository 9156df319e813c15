"""An artifact uploaded with a registration form that had errors, kept so the person need not
choose the file again.

The file is stored under ``pending/`` (never served: there is no media route) and named by a
signed token that the form carries back; the token is valid for one hour, for the same person
and model only. Registering the version (or a newer upload) takes its place.
"""

import uuid

from django.core import signing
from django.core.files.storage import default_storage

from registry.validation import validate_artifact

SALT = "signoff.kept-artifact"
MAX_AGE_SECONDS = 3600


def keep(file, *, user, model) -> str | None:
    """Store ``file`` and return the token naming it; None when the file itself is invalid."""
    try:
        validate_artifact(file)
    except Exception:  # a bad file is refused again on the next try; it is not kept
        return None
    name = getattr(file, "client_name", None) or file.name
    file.seek(0)
    path = default_storage.save(f"pending/{user.pk}/{uuid.uuid4().hex}.bin", file)
    return signing.dumps({"path": path, "name": name, "user": user.pk, "model": model.pk}, salt=SALT)


def take(token: str, *, user, model):
    """The kept file named by ``token`` (a Django File with its original name), or None when
    the token is bad, expired, someone else's or the file is gone."""
    try:
        kept = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if kept.get("user") != user.pk or kept.get("model") != model.pk or not default_storage.exists(kept["path"]):
        return None
    handle = default_storage.open(kept["path"], "rb")
    handle.name = kept["name"]
    handle.kept_path = kept["path"]
    return handle


def discard(file) -> None:
    path = getattr(file, "kept_path", None)
    if path:
        file.close()
        default_storage.delete(path)
