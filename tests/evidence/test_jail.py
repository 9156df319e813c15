"""Hostile code of our own, run through both ways a sandboxed task starts (a new interpreter and
the fork server), tries every escape the last attack found: each is refused.

The probe (``tests.sandbox_probes.escape``) is what an artifact that managed to run code would do:
read the worker's environment and keys, open the database, write the source tree and
site-packages, reach PostgreSQL's unix socket, join or make namespaces, trace or read other
processes, signal the worker, list other checks' folders, and leave a process running.
"""

import hashlib
import os
import socket
import sys
import time
from pathlib import Path

from django.conf import settings

from evidence.sandbox import Limits, SandboxInput, jail, run_in_sandbox

LIMITS = Limits(cpu_seconds=20, memory_bytes=2 * 1024**3, wall_seconds=60)
LINGER = 987_000 + os.getpid() % 1000  # the lingering process's argument: unique to this run


def lingering() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and f"sleep {LINGER}".encode() in open(f"/proc/{entry}/cmdline", "rb").read():
                found.append(int(entry))
        except OSError:
            continue
    return found


def probe(tmp_path, **extra):
    secret = Path(settings.BASE_DIR) / "var" / "secret-key"
    database = Path(settings.DATABASES["default"].get("NAME") or "")
    site_packages = next(Path(path) for path in sys.path if path.endswith("site-packages"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    payload = {
        "worker_pid": os.getpid(),
        "port": listener.getsockname()[1],
        "linger": LINGER,
        "read": {"secret key": str(secret), "audit key": str(secret.with_name("audit-key")), "passwd": "/etc/shadow"},
        "write": {
            "source tree": str(Path(settings.BASE_DIR) / "config" / "settings.py"),
            "site-packages": str(site_packages / "zz-signoff-escape.pth"),
            "database": str(database) if database.is_absolute() else str(tmp_path / "db.sqlite3"),
            "its own input": "/sandbox/artifact" if "fork" not in extra.get("mode", "") else "",
            "jail root": "/escape",
            "sandbox code": str(Path(settings.BASE_DIR) / "evidence" / "__init__.py"),
        },
        "sockets": {"postgresql": "/var/run/postgresql/.s.PGSQL.5432", "docker": "/var/run/docker.sock"},
    }
    payload["write"] = {name: path for name, path in payload["write"].items() if path}
    data = b"model bytes"
    source = tmp_path / "artifact"
    source.write_bytes(data)
    inputs = {"artifact": SandboxInput(source=source, sha256=hashlib.sha256(data).hexdigest())}
    try:
        return run_in_sandbox("tests.sandbox_probes:escape", payload, inputs, limits=LIMITS)
    finally:
        listener.close()


def test_hostile_code_in_the_jail_reaches_nothing_of_the_worker(tmp_path, started_as):
    # A sibling check's folder, as another worker process would have it at the same moment.
    sibling = Path(os.environ.get("TMPDIR", "/tmp")) / f"signoff-sandbox-sibling-{os.getpid()}"
    sibling.mkdir(exist_ok=True)
    (sibling / "dataset").write_bytes(b"another team's data")
    try:
        result = probe(tmp_path)
    finally:
        (sibling / "dataset").unlink()
        sibling.rmdir()
    assert result.ok, result.error + result.stderr
    found = result.output
    for attempt in [key for key in found if key.split()[0] in ("read", "write", "connect", "signal")]:
        assert found[attempt].startswith("refused"), (attempt, found[attempt])
    for call in ("setns", "unshare", "unshare user", "mount", "ptrace", "process_vm_readv"):
        assert found[call].startswith("refused"), (call, found[call])
    status = found["status"]
    assert status["Uid"].split()[0] == "65534"
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"
    # The worker does not exist in the jail's /proc: only the jail's own processes do.
    assert not any("celery" in command or "pytest" in command for command in found["processes"])
    assert len(found["processes"]) <= 4, found["processes"]
    # The root holds the system's folders and the tops of the runtime paths bound (wherever the
    # checkout and Python live), nothing else of the host.
    bound = {path.parts[1] for path in jail._runtime_paths()}
    system = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "dev", "tmp", "sandbox"}
    assert set(found["root"]) <= system | bound, set(found["root"]) - system - bound
    assert not ({"var", "media"} - bound) & set(found["root"])
    assert all(not name.startswith("signoff-sandbox-sibling") for name in found["sandbox"])
    assert not (Path(sys.prefix) / "zz-signoff-escape.pth").exists()


def test_nothing_the_task_started_outlives_it(tmp_path, started_as):
    result = probe(tmp_path)
    assert result.ok, result.error
    deadline = time.monotonic() + 5
    while lingering() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lingering() == []


def test_the_jail_runs_as_nobody_outside_when_it_can(tmp_path):
    """A root worker starts the jail as nobody, unless nobody cannot reach the Python it binds."""
    result = run_in_sandbox(
        "tests.sandbox_probes:environment", {}, {}, limits=LIMITS
    )  # the parent the jailed process sees is the jail's own init
    assert result.ok and result.output["parent"] in (1, 2)
    if os.geteuid() == 0:
        expected = "nobody" if all(jail._reachable_by_nobody(p) for p in jail._runtime_paths()) else "root"
        assert jail.outside_user().startswith(expected)


def test_without_the_jail_nothing_runs_unjailed(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setenv("SIGNOFF_SANDBOX_BWRAP", str(tmp_path / "no-such-bwrap"))
    jail.jail_problem.cache_clear()
    try:
        result = run_in_sandbox("tests.sandbox_probes:environment", {"marker": str(marker)}, {}, limits=LIMITS)
    finally:
        monkeypatch.undo()
        jail.jail_problem.cache_clear()
    assert not result.ok and "was not run unjailed" in result.error
    assert not marker.exists()
