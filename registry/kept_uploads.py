"""An artifact uploaded with a registration form that had errors, kept so the person need not
choose the file again.

The file is stored under ``pending/`` (never served: there is no media route) and named by a
signed token that the form carries back; the token is valid for one hour, for the same person
and model only. Registering the version (or a newer upload) takes its place.
"""

import re
import uuid
from datetime import timedelta

from django.core import signing
from django.core.files.storage import default_storage
from django.utils import timezone

from registry.validation import validate_model_artifact

SALT = "signoff.kept-artifact"
MAX_AGE_SECONDS = 3600


def keep(file, *, user, model) -> str | None:
    """Store ``file`` and return the token naming it; None when the file itself is invalid."""
    try:
        validate_model_artifact(file)
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
    if kept.get("user") != user.pk or kept.get("model") != model.pk:
        return None
    # Even a token signed by someone who holds the secret key names only this person's own
    # pending uploads: never another path, another person's folder, or a stored artifact.
    path = kept.get("path")
    if not isinstance(path, str) or not re.fullmatch(
        rf"pending/{user.pk}/[0-9a-f]{{32}}(_[A-Za-z0-9]{{7}})?\.bin", path
    ):
        return None
    if not default_storage.exists(path):
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


def sweep(*, older_than_seconds: int = MAX_AGE_SECONDS) -> int:
    """Delete kept files whose token has expired (nobody can take them any more); the number
    deleted. Beat runs it every quarter of an hour."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    deleted = 0
    users, _ = default_storage.listdir("pending") if default_storage.exists("pending") else ([], [])
    for user in users:
        for name in default_storage.listdir(f"pending/{user}")[1]:
            path = f"pending/{user}/{name}"
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
                deleted += 1
    return deleted
