"""Run untrusted work (opening an artifact or a dataset) in a jailed process that is not the worker.

``run_in_sandbox(task, payload, inputs)`` runs ``evidence.sandbox.child`` in a new Python inside
the jail (``evidence.sandbox.jail``: bubblewrap namespaces, a read-only root holding only the
runtime and the sandbox code, no network, no capabilities, a seccomp filter), with:

- a stripped environment: no database URL, no secrets, no broker; only PATH, HOME (the jail's
  private ``/tmp``) and locale, and Python in isolated mode (``-I``);
- its own folder, holding copies of the inputs, each verified against the SHA-256 recorded for it
  before the task starts (a file changed in storage is never opened), bound read-only;
- resource limits: CPU seconds, address space (memory), open files, size of files written, and
  a wall-clock timeout after which the jail is killed with everything in it;
- JSON in (stdin) and JSON out (stdout).

Where the jail cannot run, the task is not run at all: the result says why. A crash, a timeout
or running out of memory comes back as a ``SandboxResult`` whose ``error`` says which, never as
an exception in the worker. In worker processes the task is forked from a fork server that lives
in its own jail and has already imported NumPy, pandas, scikit-learn and fairlearn
(``evidence.sandbox.zygote``). Tasks are plain functions of plain inputs
(``evidence.sandbox.tasks``), testable without the database and without a sandbox.
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
from pathlib import Path

from evidence.sandbox import jail

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RESULT_LIMIT = 4 * 1024 * 1024  # bytes of JSON a task may return
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


def network_isolation_available() -> bool:
    """Whether sandboxed tasks run here at all: they run only in the jail, which has no network."""
    return not jail.jail_problem()


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
    """Run ``task`` ("module:function") on ``payload`` with ``inputs`` copied into its folder.
    An input that cannot be read raises OSError (the caller decides: missing, or retry later).

    The function receives the payload and the folder (``function(payload, directory)``) and
    returns a JSON-serialisable dict. In a worker process that started the fork server
    (``enable_zygote``) the task is forked from it; otherwise a new interpreter is started.
    Either way it runs in the jail, or not at all.
    """
    limits = limits or default_limits()
    problem = jail.jail_problem()
    if problem:
        return SandboxResult(
            ok=False, error=f"The sandbox jail cannot run on this machine ({problem}); the check was not run unjailed."
        )
    zygote = _zygote if _zygote is not None and limits.memory_bytes >= FORK_SERVER_MIN_MEMORY else None
    home = zygote.workspace_root() if zygote is not None else None
    directory = Path(tempfile.mkdtemp(prefix="task-" if home else "signoff-sandbox-", dir=home))
    try:
        try:
            for name, item in (inputs or {}).items():
                _copy_verified(name, item, directory)
        except InputChanged as error:
            return SandboxResult(ok=False, error=str(error))
        jail.prepare_workspace(directory)
        data = json.dumps(payload).encode()
        ran = None
        if zygote is not None and home is not None:
            try:
                ran = zygote.run(task, data, directory, limits)
            except ZygoteUnavailable:
                ran = None  # started afresh below; the next task starts a new fork server
            except TaskLost:
                return SandboxResult(ok=False, error="The sandbox was stopped while the check ran.")
        returncode, stdout, stderr = ran or _spawned(task, data, directory, limits)
        if returncode is None:
            return SandboxResult(
                ok=False,
                error=f"The check did not finish within {limits.wall_seconds} seconds and was stopped.",
                isolated_network=True,
            )
        return _result(returncode, stdout, stderr.decode(errors="replace")[-4000:], limits, True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _jailed_start(limits: Limits | None = None):
    """What the new process does before bubblewrap runs: its own session (a timeout kills the
    jail), the limits, then the jail's outside user."""

    def apply():
        if limits is None:
            os.setsid()
        else:
            limit(limits)()
        jail.as_jail_user()

    return apply


def _spawned(task: str, data: bytes, directory: Path, limits: Limits):
    """Run ``task`` in a new interpreter in a new jail: (exit status or None after a timeout,
    stdout, stderr)."""
    with jail.jailed(_python("evidence.sandbox.child", task), directory) as (arguments, fds):
        process = subprocess.Popen(
            arguments,
            cwd="/",
            env=_environment(JAIL_HOME),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_jailed_start(limits),
            pass_fds=fds,
        )
    try:
        stdout, stderr = process.communicate(data, timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None, b"", b""
    # The jail's init reports a task killed by a signal as 128 + the signal, like a shell.
    returncode = process.returncode
    return (128 - returncode if 128 < returncode < 128 + 65 else returncode), stdout, stderr


class ZygoteUnavailable(Exception):
    """The fork server is gone or did not answer before the task started; the task runs in a new
    interpreter instead."""


class TaskLost(Exception):
    """The fork server died while the task ran (the task died with it)."""


class Zygote:
    """This worker process's fork server (``evidence.sandbox.zygote``), started in its own jail
    with the same stripped environment as any sandboxed process and restarted when it is gone.
    Its jail sees one folder of the host (``home``, as ``/sandbox``), holding only the folder of
    the task it runs."""

    STARTUP_SECONDS = 120  # the first answer waits for its imports

    def __init__(self):
        self.lock = threading.Lock()
        self.process = None
        self.control = None
        self.home = None

    def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.home = tempfile.mkdtemp(prefix="signoff-zygote-")
        os.chmod(self.home, 0o755)
        try:
            argv = _python("evidence.sandbox.zygote", str(theirs.fileno()))
            with jail.jailed(argv, Path(self.home)) as (arguments, fds):
                self.process = subprocess.Popen(
                    arguments,
                    cwd="/",
                    env=_environment(JAIL_HOME),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=[theirs.fileno(), *fds],
                    preexec_fn=_jailed_start(),
                )
        finally:
            theirs.close()
        self.control = ours

    def stop(self) -> None:
        if self.control is not None:
            self.control.close()
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
        self.process = self.control = self.home = None

    def workspace_root(self) -> str | None:
        """The host folder the fork server's jail sees, started first if need be (None when it
        cannot start: the task then runs in a new jail of its own)."""
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self.stop()
                try:
                    self.start()
                except OSError:
                    self.stop()
                    return None
            return self.home

    def run(self, task: str, data: bytes, directory: Path, limits: Limits):
        with self.lock:
            if self.process is None or self.process.poll() is not None or directory.parent != Path(self.home):
                self.stop()
                raise ZygoteUnavailable("the fork server stopped before the task started")
            try:
                return self._run(task, data, directory, limits)
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

    def _run(self, task, data, directory, limits):
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        inside = f"{jail.INSIDE}/{directory.name}"
        request = {"task": task, "directory": inside, "limits": asdict(limits)}
        try:
            socket.send_fds(self.control, [json.dumps(request).encode()], [stdin_read, stdout_write, stderr_write])
        finally:
            for fd in (stdin_read, stdout_write, stderr_write):
                os.close(fd)
        try:
            self._answer(self.STARTUP_SECONDS)  # the task has started
            from jobs.faults import fault_point  # the worker's side; the jail binds only evidence/

            fault_point("during_sandbox", note=lambda: " ".join(map(str, _host_tree(self.process.pid))))
            stdout, stderr, finished = _exchange(stdin_write, stdout_read, stderr_read, data, limits.wall_seconds)
        finally:
            for fd in (stdin_write, stdout_read, stderr_read):
                with contextlib.suppress(OSError):
                    os.close(fd)
        if not finished:
            # The task's pid is in the jail's namespace: only the fork server can stop it.
            self.stop()
            return None, b"", b""
        try:
            returncode = self._answer(30)["returncode"]
        except (OSError, ValueError, KeyError, ZygoteUnavailable) as error:
            raise TaskLost from error
        return returncode, stdout, stderr


def _host_tree(root: int) -> list[int]:
    """``root`` and every process below it, by host pid (what a fault test watches die)."""
    parents = {}
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.isdigit():
                parents[int(entry)] = int(open(f"/proc/{entry}/stat").read().rpartition(")")[2].split()[1])
    tree = [root]
    for pid in tree:
        tree += [child for child, parent in parents.items() if parent == pid]
    return tree


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


JAIL_HOME = "/tmp"  # the jail's private, writable tmpfs
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

    # Memory first: a task that ran out of it may be killed while its traceback is written.
    if "MemoryError" in stderr:
        return failed(f"The check needed more than {limits.memory_bytes // 1024**2} MB of memory and was stopped.")
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return failed(f"The check used more than {limits.cpu_seconds} s of CPU and was stopped.")
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
