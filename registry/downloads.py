"""Artifact downloads: bytes, never pages.

An uploaded file may be anything, an HTML page with a script included, so it is always sent
as an opaque attachment that no browser renders or sniffs, inside a sandbox that forbids
scripts even if it were rendered.
"""

import os

from django.http import FileResponse

from registry.models import ModelVersion
from registry.services import model_version_artifact_open


def artifact_response(*, version: ModelVersion, actor) -> FileResponse:
    handle = model_version_artifact_open(version=version, actor=actor)
    filename = os.path.basename(version.artifact.name)
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response
