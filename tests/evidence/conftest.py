"""Fixtures shared by the sandbox's tests."""

import pytest

from evidence import sandbox


@pytest.fixture(params=["new interpreter", "fork server"])
def started_as(request):
    """Each way a sandboxed task starts: a new interpreter (the web process) or forked from the
    fork server that has the libraries imported (worker processes)."""
    if request.param == "fork server":
        sandbox.enable_zygote()
        yield request.param
        sandbox.disable_zygote()
    else:
        yield request.param
