import pytest

from approvals import services
from tests import factories


@pytest.fixture
def submit(background):
    """``submit(version, by)``: submit and let the checks run; returns the request, refreshed."""

    def _submit(version, by):
        with background():
            request = services.promotion_request_submit(version=version, actor=by)
        request.refresh_from_db()
        return request

    return _submit


@pytest.fixture
def awaiting_manager(people, risk_model, submit):
    return submit(factories.make_version(model=risk_model, by=people.dana), people.dana)
