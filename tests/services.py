"""Pytest plugin, loaded before Django: decide which real services the suite uses.

With PostgreSQL and Redis listening on 127.0.0.1 (as on the development machines and in CI)
the suite runs on them unless DATABASE_URL / CELERY_BROKER_URL say otherwise. Tests marked
``postgres``, ``redis``, ``worker``, ``browser`` or ``proxy`` (nginx) need those parts: without them they are
skipped with a message saying so, except in CI (``CI=true``), where that is a failure.
"""

import atexit
import os
import shutil
import socket
import tempfile

import pytest

CHROMIUM = "/usr/bin/chromium"
NGINX = "/usr/sbin/nginx"


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (aiosmtpd and redis-server need one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


POSTGRES_UP = _listening("127.0.0.1", 5432)
REDIS_UP = _listening("127.0.0.1", 6379)
if POSTGRES_UP:
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/signoff")
if REDIS_UP:
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
# Uploaded artifacts, queued messages and mail files go to a scratch folder, not var/.
if "SIGNOFF_VAR_DIR" not in os.environ:
    os.environ["SIGNOFF_VAR_DIR"] = tempfile.mkdtemp(prefix="signoff-tests-")
    atexit.register(shutil.rmtree, os.environ["SIGNOFF_VAR_DIR"], ignore_errors=True)
os.environ.setdefault("SIGNOFF_BASE_URL", "http://testserver")
# The demo app (seed_demo, rundemo) is installed for the demo's own tests.
os.environ.setdefault("SIGNOFF_DEMO", "1")
# Playwright's sync API runs an event loop; Django's live server is used from the same thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(marker: str) -> str | None:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    broker = settings.CELERY_BROKER_URL
    if marker in ("postgres", "worker") and "postgresql" not in engine:
        return "PostgreSQL is not in use (no server on 127.0.0.1:5432 and no postgres DATABASE_URL)"
    if marker in ("redis", "worker") and not broker.startswith("redis"):
        return "Redis is not in use (no server on 127.0.0.1:6379 and no redis CELERY_BROKER_URL)"
    if marker == "browser" and not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if marker == "proxy" and not (os.path.exists(NGINX) or shutil.which("nginx")):
        return f"nginx is not installed at {NGINX} (apt-get install nginx-light)"
    return None


def pytest_runtest_setup(item):
    for marker in ("postgres", "redis", "worker", "browser", "proxy"):
        if item.get_closest_marker(marker) is None:
            continue
        reason = _missing(marker)
        if reason is None:
            continue
        if IN_CI:
            pytest.fail(f"{item.nodeid} needs {marker} in CI: {reason}", pytrace=False)
        pytest.skip(f"needs {marker}: {reason}")
