"""Hostile code run by the worker itself for an uploaded artifact reaches nothing.

No upload gets to run code (the restricted reader refuses it before anything loads), so the
test puts the jail tests' hostile probe (``tests.sandbox_probes.escape``) in the pickle scan's
place: a real worker, started with the shipped settings and its own environment and keys, runs
it through its own fork server on the artifact dana uploaded through the API, as it would run
code an upload had smuggled past every scan."""

import json
import os
import socket
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from approvals.models import CheckRun
from registry.models import ModelVersion
from tests import factories
from tests.evidence.test_jail import LINGER, lingering
from tests.integration.conftest import wait_for
from tests.integration.test_faults import state

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SCAN_ONLY = """
name: scan-only
steps:
  - name: automated_checks
    type: checks
    checks:
      - type: pickle_scan
  - name: manager_review
    type: approval
    approvers: [manager]
"""


@pytest.mark.parametrize("entry", ["submit", "preflight"])  # a request's checks, and "Check this version"
def test_hostile_code_run_by_the_worker_for_an_upload_reaches_nothing(
    people, risk_model, api, own_broker, background_processes, use_workflow, tmp_path, monkeypatch, entry
):
    use_workflow(SCAN_ONLY)
    uploaded = api(people.dana).post(
        "/api/models/credit-risk/versions/",
        {"artifact": SimpleUploadedFile("model.joblib", factories.artifact().read()), "metrics": '{"accuracy": 0.9}'},
        format="multipart",
    )
    assert uploaded.status_code == 201, uploaded.content
    stored = Path(ModelVersion.objects.get(model=risk_model).artifact.path)  # the upload, in media/
    var = Path(os.environ["SIGNOFF_VAR_DIR"])
    assert (var / "secret-key").exists() and (var / "audit-key").exists()  # the worker's keys, on the host
    site_packages = next(Path(path) for path in sys.path if path.endswith("site-packages"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    probe = {
        "port": listener.getsockname()[1],
        "linger": LINGER,
        "read": {
            "secret key": str(var / "secret-key"),
            "audit key": str(var / "audit-key"),
            "stored upload": str(stored),
            "passwd": "/etc/shadow",
        },  # fmt: skip
        "write": {
            "source tree": str(Path(settings.BASE_DIR) / "config" / "settings.py"),
            "site-packages": str(site_packages / "zz-signoff-escape.pth"),
            "var": str(var / "escape"),
            "jail root": "/escape",
            "sandbox code": str(Path(settings.BASE_DIR) / "approvals" / "__init__.py"),
        },
        "sockets": {"postgresql": "/var/run/postgresql/.s.PGSQL.5432", "docker": "/var/run/docker.sock"},
    }
    monkeypatch.setenv("SIGNOFF_FAULT_PAYLOAD", json.dumps(probe))  # the worker inherits it
    worker = background_processes("worker", own_broker, fault="task:tests.sandbox_probes:escape_as_check")

    if entry == "preflight":
        from approvals.models import Preflight, PreflightCheck
        from approvals.preflight import preflight_start

        started = preflight_start(version=ModelVersion.objects.get(model=risk_model), actor=people.dana)
        try:
            wait_for(lambda: Preflight.objects.get(pk=started.pk).status != "running", timeout=60, what="the check",
                     worker=worker)  # fmt: skip
        finally:
            listener.close()
        run = PreflightCheck.objects.get(preflight=started)
    else:
        submitted = api(people.dana).post("/api/models/credit-risk/versions/1/submit/")
        assert submitted.status_code in (201, 202), submitted.content
        request_id = submitted.json()["id"]
        try:
            wait_for(lambda: state(request_id).status != "in_progress", timeout=60, what="the check", worker=worker)
        finally:
            listener.close()
        run = CheckRun.objects.get(step__request_id=request_id)
    assert run.summary == "a hostile probe ran", run.summary  # the probe ran, in the worker's jail
    found = run.result["escape"]
    for attempt in [key for key in found if key.split()[0] in ("read", "write", "connect", "signal")]:
        assert found[attempt].startswith("refused"), (attempt, found[attempt])
    for call in ("setns", "unshare", "unshare user", "mount", "ptrace", "process_vm_readv"):
        assert found[call].startswith("refused"), (call, found[call])
    status = found["status"]
    assert status["Uid"].split()[0] == "65534" and int(status["CapEff"], 16) == 0
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"
    assert not any("celery" in command for command in found["processes"])  # the worker is not there
    # The fork server's folder holds this task's own folder (its input), no other check's.
    assert len(found["sandbox"]) == 1 and found["sandbox"][0].startswith("task-"), found["sandbox"]
    assert not (site_packages / "zz-signoff-escape.pth").exists() and not (var / "escape").exists()
    wait_for(lambda: not lingering(), timeout=10, what="the double-forked process to be gone")
    if entry == "submit":
        assert state(request_id).status == "checks_failed"  # and the request went nowhere
    else:
        assert run.preflight.status == "failed"  # and the pre-flight says so
