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
says which, never as an exception in the worker. In worker processes the task is forked from a
fork server that has already imported NumPy, pandas, scikit-learn and fairlearn
(``approvals.sandbox.zygote``): the same limits, directory and environment, without paying for
those imports on every check. Tasks are plain functions of plain inputs
(``approvals.sandbox.tasks``), testable without the database and without a sandbox.
"""

import contextlib
import hashlib
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from approvals.faults import fault_point

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RESULT_LIMIT = 4 * 1024 * 1024  # bytes of JSON a task may return
NO_NETWORK = 121  # exit status of a forked task that was to drop the network and could not
# A forked task inherits the fork server's address space (about 520 MB of libraries): under a
# tighter memory limit it would have almost nothing left, so such tasks get a new interpreter.
FORK_SERVER_MIN_MEMORY = 1024**3


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


def limit(limits: Limits):
    """What a sandboxed process does before the task: its own process group (a timeout kills
    everything the task started) and the resource limits. Run in the new process, whether
    started afresh (``preexec_fn``) or forked from the fork server."""

    def apply():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.written_bytes, limits.written_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _environment(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


def _python(module: str, *arguments: str) -> list[str]:
    """``python -I`` running ``module``'s ``main``: no environment variables, user site or working
    directory on the import path; the project's root is put there explicitly."""
    bootstrap = f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r}); from {module} import main; sys.exit(main())"
    return [sys.executable, "-I", "-c", bootstrap, *arguments]


def run_in_sandbox(
    task: str, payload: dict, inputs: dict[str, SandboxInput] | None = None, limits: Limits | None = None
) -> SandboxResult:
    """Run ``task`` ("module:function") on ``payload`` with ``inputs`` copied into its directory.
    An input that cannot be read raises OSError (the caller decides: missing, or retry later).

    The function receives the payload and the directory (``function(payload, directory)``) and
    returns a JSON-serialisable dict. In a worker process that started the fork server
    (``enable_zygote``) the task is forked from it; otherwise a new interpreter is started.
    """
    limits = limits or default_limits()
    with tempfile.TemporaryDirectory(prefix="signoff-sandbox-") as temporary:
        directory = Path(temporary)
        try:
            for name, item in (inputs or {}).items():
                _copy_verified(name, item, directory)
        except InputChanged as error:
            return SandboxResult(ok=False, error=str(error))
        isolate = network_isolation_available()
        data = json.dumps(payload).encode()
        ran = None
        if _zygote is not None and limits.memory_bytes >= FORK_SERVER_MIN_MEMORY:
            try:
                ran = _zygote.run(task, data, directory, limits, isolate)
            except ZygoteUnavailable:
                ran = None  # started afresh below; the next task starts a new fork server
            except TaskLost:
                return SandboxResult(ok=False, error="The sandbox was stopped while the check ran.")
        returncode, stdout, stderr = ran or _spawned(task, data, directory, limits, isolate)
        if returncode is None:
            return SandboxResult(
                ok=False,
                error=f"The check did not finish within {limits.wall_seconds} seconds and was stopped.",
                isolated_network=isolate,
            )
        return _result(returncode, stdout, stderr.decode(errors="replace")[-4000:], limits, isolate)


def _spawned(task: str, data: bytes, directory: Path, limits: Limits, isolate: bool):
    """Run ``task`` in a new interpreter: (exit status or None after a timeout, stdout, stderr)."""
    prefix = _unshare_prefix() if isolate else []
    process = subprocess.Popen(
        [*prefix, *_python("approvals.sandbox.child", task)],
        cwd=directory,
        env=_environment(str(directory)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=limit(limits),
        close_fds=True,
    )
    try:
        stdout, stderr = process.communicate(data, timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None, b"", b""
    return process.returncode, stdout, stderr


class ZygoteUnavailable(Exception):
    """The fork server is gone or did not answer before the task started; the task runs in a new
    interpreter instead."""


class TaskLost(Exception):
    """The fork server died while the task ran (the task died with it)."""


class Zygote:
    """This worker process's fork server (``approvals.sandbox.zygote``), started with the same
    stripped environment as any sandboxed process and restarted when it is gone."""

    STARTUP_SECONDS = 120  # the first answer waits for its imports

    def __init__(self):
        self.lock = threading.Lock()
        self.process = None
        self.control = None
        self.home = None

    def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.home = tempfile.mkdtemp(prefix="signoff-zygote-")
        try:
            self.process = subprocess.Popen(
                _python("approvals.sandbox.zygote", str(theirs.fileno())),
                cwd=self.home,
                env=_environment(self.home),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                start_new_session=True,
            )
        finally:
            theirs.close()
        self.control = ours

    def stop(self) -> None:
        if self.control is not None:
            self.control.close()
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
        self.process = self.control = self.home = None

    def run(self, task: str, data: bytes, directory: Path, limits: Limits, isolate: bool):
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self.stop()
                self.start()
            try:
                return self._run(task, data, directory, limits, isolate)
            except (OSError, ValueError, KeyError) as error:
                self.stop()
                raise ZygoteUnavailable(str(error)) from error
            except BaseException:  # TaskLost, ZygoteUnavailable, or the job's soft time limit
                self.stop()
                raise

    def _answer(self, timeout: float) -> dict:
        self.control.settimeout(timeout)
        message = self.control.recv(4096)
        if not message:
            raise ZygoteUnavailable("the fork server closed its socket")
        return json.loads(message)

    def _run(self, task, data, directory, limits, isolate):
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        request = {"task": task, "directory": str(directory), "limits": asdict(limits), "isolate_network": isolate}
        try:
            socket.send_fds(self.control, [json.dumps(request).encode()], [stdin_read, stdout_write, stderr_write])
        finally:
            for fd in (stdin_read, stdout_write, stderr_write):
                os.close(fd)
        try:
            pid = self._answer(self.STARTUP_SECONDS)["pid"]
            fault_point("during_sandbox", note=f"{self.process.pid} {pid}")
            stdout, stderr, finished = _exchange(stdin_write, stdout_read, stderr_read, data, limits.wall_seconds)
        finally:
            for fd in (stdin_write, stdout_read, stderr_read):
                with contextlib.suppress(OSError):
                    os.close(fd)
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        try:
            returncode = self._answer(30)["returncode"]
        except (OSError, ValueError, KeyError, ZygoteUnavailable) as error:
            raise TaskLost from error
        if returncode == NO_NETWORK:
            return 1, b"", b"The sandbox could not drop the network."
        return (returncode if finished else None), stdout, stderr


def _exchange(stdin: int, stdout: int, stderr: int, data: bytes, seconds: float):
    """Write ``data`` to the child's stdin and read its stdout and stderr until both close or
    ``seconds`` pass: (stdout, stderr, whether it finished in time). Output past the result
    limit is read and dropped."""
    deadline = time.monotonic() + seconds
    output = {stdout: bytearray(), stderr: bytearray()}
    pending = memoryview(data)
    with selectors.DefaultSelector() as selector:
        for fd in (stdout, stderr):
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        os.set_blocking(stdin, False)
        selector.register(stdin, selectors.EVENT_WRITE)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(output[stdout]), bytes(output[stderr]), False
            for key, _events in selector.select(remaining):
                if key.fd == stdin:
                    try:
                        pending = pending[os.write(stdin, pending[:65536]) :]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        selector.unregister(stdin)
                        os.close(stdin)
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                elif len(output[key.fd]) <= RESULT_LIMIT:
                    output[key.fd] += chunk
    return bytes(output[stdout]), bytes(output[stderr]), True


_zygote: Zygote | None = None


def enable_zygote() -> None:
    """Fork this process's sandboxed tasks from a fork server (started now, importing in the
    background), unless ``SIGNOFF_SANDBOX_FORK_SERVER`` is off. Workers call it when a pool
    process starts, and the demo's seeding while it runs the checks."""
    from django.conf import settings

    global _zygote
    if _zygote is None and settings.SIGNOFF_SANDBOX_FORK_SERVER:
        _zygote = Zygote()
        _zygote.start()


def disable_zygote() -> None:
    global _zygote
    if _zygote is not None:
        _zygote.stop()
        _zygote = None


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
