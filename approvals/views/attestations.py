"""The signed approval of a version (``approvals.attestations``) as a download, and the public
key anyone verifies it with."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from approvals import attestations, selectors
from registry import selectors as registry_selectors


def attestation_response(*, version) -> HttpResponse:
    """The latest signed approval of ``version``, as an attachment; 404 when it has none."""
    found = selectors.latest_attestation(version=version)
    if found is None:
        raise Http404(f"{version.model.name} v{version.number} has no signed approval (it was never deployed).")
    found.refresh_from_db(fields=["envelope"])
    response = HttpResponse(attestations.envelope_bytes(found), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{version.model.name}-v{version.number}.intoto.json"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def version_attestation(request, name, number):
    version = registry_selectors.version_get(user=request.user, name=name, number=number)
    return attestation_response(version=version)


@require_GET
def public_key(request):
    """The Ed25519 public key (PEM) that signs every approval: public, no login."""
    response = HttpResponse(attestations.public_key_pem(), content_type="text/plain; charset=us-ascii")
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Signoff-Key-Id"] = attestations.key_id()
    return response
