"""Safe by default (finding 3, 11): DEBUG off unless set, `check --deploy` clean with the
production settings the README documents, e-mail links that follow the demo's port."""

import os
import subprocess
import sys
from pathlib import Path

from config import errors

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "SIGNOFF_BASE_URL", "PORT")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def setting(name: str, **env) -> str:
    code = (
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); import django; "
        f"django.setup(); from django.conf import settings; print(settings.{name})"
    )
    result = run_python(code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_is_off_unless_set():
    assert setting("DEBUG") == "False"
    assert setting("DEBUG", DEBUG="true") == "True"


def test_email_links_follow_the_port_the_demo_serves():
    assert setting("SIGNOFF_BASE_URL", PORT="8201") == "http://127.0.0.1:8201"
    assert setting("SIGNOFF_BASE_URL") == "http://127.0.0.1:8000"


def test_the_production_settings_pass_check_deploy(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")},
            "SECRET_KEY": "x7#kq!2v" * 8,
            "SIGNOFF_HTTPS": "true",
            "ALLOWED_HOSTS": "signoff.example.com",
            "STATIC_MANIFEST": "true",
            "SIGNOFF_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_500_page_is_ours_and_tells_nothing(rf):
    page = errors.server_error(rf.get("/models/"))
    assert page.status_code == 500
    assert b"Something went wrong" in page.content and b"Traceback" not in page.content
    api = errors.server_error(rf.get("/api/models/"))
    assert api["Content-Type"] == "application/json" and api.status_code == 500


def test_a_wrong_method_gets_the_405_page(client, people):
    client.force_login(people.mona)
    response = client.get("/models/credit-risk/rollback/")
    assert response.status_code == 405
    assert b"accepts POST only" in response.content and response["Allow"] == "POST"
