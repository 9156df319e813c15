"""Run untrusted work (opening an artifact or a dataset) in a child process that is not the worker.

``run_in_sandbox(task, payload, inputs)`` starts ``approvals.sandbox.child`` in a new Python with:

- a stripped environment: no database URL, no secrets, no broker; only PATH, HOME (the sandbox
  directory) and locale, and Python in isolated mode (``-I``);
- its own temporary directory, holding copies of the inputs, each verified against the SHA-256
  recorded for it before the child starts (a file changed in storage is never opened);
- resource limits: CPU seconds, address space (memory), open files, size of files written, and
  a wall-clock timeout after which the whole process group is killed;
- no network where the platform allows it (a new network namespace via ``unshare -n``; the
  result says whether it was available);
- JSON in (stdin) and JSON out (stdout).

A crash, a timeout or running out of memory comes back as a ``SandboxResult`` whose ``error``
says which, never as an exception in the worker. Tasks are plain functions of plain inputs
(``approvals.sandbox.tasks``), testable without the database and without a sandbox.
"""

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RESULT_LIMIT = 4 * 1024 * 1024  # bytes of JSON a task may return


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 60
    memory_bytes: int = 2 * 1024**3
    wall_seconds: int = 120
    open_files: int = 64
    written_bytes: int = 256 * 1024**2


@dataclass(frozen=True)
class SandboxInput:
    """A file the task reads: where to copy it from, and the SHA-256 it must have."""

    source: Path | None
    sha256: str
    opener: object = None  # or a callable returning a binary file object (Django storage)


@dataclass
class SandboxResult:
    ok: bool
    output: dict = field(default_factory=dict)
    error: str = ""  # why the task did not finish: timeout, memory, crash, input changed…
    isolated_network: bool = False
    stderr: str = ""


class InputChanged(Exception):
    """An input's bytes do not match the SHA-256 recorded for it."""


def default_limits() -> Limits:
    from django.conf import settings

    return Limits(
        cpu_seconds=settings.SIGNOFF_SANDBOX_CPU_SECONDS,
        memory_bytes=settings.SIGNOFF_SANDBOX_MEMORY_MB * 1024**2,
        wall_seconds=settings.SIGNOFF_SANDBOX_WALL_SECONDS,
    )


@lru_cache(maxsize=1)
def network_isolation_available() -> bool:
    """Whether ``unshare -n`` works here (root, or unprivileged user namespaces)."""
    unshare = shutil.which("unshare")
    if not unshare:
        return False
    for command in ([unshare, "-n", "true"], [unshare, "-rn", "true"]):
        try:
            if subprocess.run(command, capture_output=True, timeout=10).returncode == 0:
                return True
        except (OSError, subprocess.SubprocessError):
            continue
    return False


def _unshare_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    for flags in ("-n", "-rn"):
        try:
            if subprocess.run([unshare, flags, "true"], capture_output=True, timeout=10).returncode == 0:
                return [unshare, flags]
        except (OSError, subprocess.SubprocessError):
            continue
    return []


def _copy_verified(name: str, item: SandboxInput, directory: Path) -> None:
    if "/" in name or name.startswith(".") or not name:
        raise ValueError(f"bad sandbox input name {name!r}")
    digest = hashlib.sha256()
    target = directory / name
    source = item.opener() if item.opener is not None else open(item.source, "rb")
    with source, open(target, "wb") as copy:
        for chunk in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(chunk)
            copy.write(chunk)
    if digest.hexdigest() != item.sha256:
        raise InputChanged(f"'{name}' does not match the SHA-256 recorded for it; it was not opened.")


def _limit(limits: Limits):
    def apply():
        os.setsid()  # its own process group: a timeout kills everything the task started
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.written_bytes, limits.written_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_in_sandbox(
    task: str, payload: dict, inputs: dict[str, SandboxInput] | None = None, limits: Limits | None = None
) -> SandboxResult:
    """Run ``task`` ("module:function") on ``payload`` with ``inputs`` copied into its directory.
    An input that cannot be read raises OSError (the caller decides: missing, or retry later).

    The function receives the payload and the directory (``function(payload, directory)``) and
    returns a JSON-serialisable dict.
    """
    limits = limits or default_limits()
    with tempfile.TemporaryDirectory(prefix="signoff-sandbox-") as temporary:
        directory = Path(temporary)
        try:
            for name, item in (inputs or {}).items():
                _copy_verified(name, item, directory)
        except InputChanged as error:
            return SandboxResult(ok=False, error=str(error))
        prefix = _unshare_prefix() if network_isolation_available() else []
        environment = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": temporary,
            "TMPDIR": temporary,
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
        # -I: no environment variables, user site or working directory on the import path; the
        # project's root is put there explicitly so the task's module can be imported.
        bootstrap = (
            f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r}); "
            "from approvals.sandbox.child import main; sys.exit(main())"
        )
        command = [*prefix, sys.executable, "-I", "-c", bootstrap, task]
        process = subprocess.Popen(
            command,
            cwd=temporary,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_limit(limits),
            close_fds=True,
        )
        try:
            stdout, stderr = process.communicate(json.dumps(payload).encode(), timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return SandboxResult(
                ok=False,
                error=f"The check did not finish within {limits.wall_seconds} seconds and was stopped.",
                isolated_network=bool(prefix),
            )
        return _result(process.returncode, stdout, stderr.decode(errors="replace")[-4000:], limits, bool(prefix))


def _result(returncode: int, stdout: bytes, stderr: str, limits: Limits, isolated: bool) -> SandboxResult:
    def failed(error: str) -> SandboxResult:
        return SandboxResult(ok=False, error=error, isolated_network=isolated, stderr=stderr)

    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return failed(f"The check used more than {limits.cpu_seconds} s of CPU and was stopped.")
    if "MemoryError" in stderr:
        return failed(f"The check needed more than {limits.memory_bytes // 1024**2} MB of memory and was stopped.")
    if returncode != 0:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {returncode}"
        return failed(f"The check crashed: {last[:300]}")
    if len(stdout) > RESULT_LIMIT:
        return failed("The check returned too much output.")
    try:
        output = json.loads(stdout)
    except ValueError:
        output = None
    if not isinstance(output, dict):
        return failed("The check returned no readable result.")
    return SandboxResult(ok=True, output=output, isolated_network=isolated, stderr=stderr)
