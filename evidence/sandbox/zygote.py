"""The sandbox's fork server: a process that has already imported what checks need (NumPy,
pandas, scikit-learn, fairlearn), so a sandboxed task starts in milliseconds instead of the
seconds those imports take in a fresh interpreter.

It is started by a worker process (``evidence.sandbox.Zygote``) like any sandboxed process:
in the jail, ``python -I``, a stripped environment, no Django, no secrets. It never opens an
input itself. For each request on its control socket (a JSON line and three pipe ends: stdin,
stdout, stderr) it forks a child that puts itself in its task's folder and its own process group,
applies the resource limits and then runs the task exactly as ``evidence.sandbox.child`` would;
the zygote answers with the child's pid, then with its exit status. When a task ends, the zygote
kills every other process left in its jail (whatever the task started) and empties ``/tmp``,
so nothing of one task is there for the next. It is not dumpable (a task cannot read its
memory), it dies with the worker (``PR_SET_PDEATHSIG`` and the jail's ``--die-with-parent``),
and each child dies with it.
"""

import contextlib
import ctypes
import gc
import json
import os
import shutil
import signal
import socket
import sys
import traceback

from evidence.sandbox import Limits, child, limit

WARM = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "joblib",
    "sklearn",
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.tree",
    "fairlearn.metrics",
    "picklescan.scanner",
    "skops.io",
    "evidence.sandbox.evaluation",
    "evidence.sandbox.tasks",
    "evidence.sandbox.unpickle",  # the pickle scan's reader: imported by each task otherwise
)
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def clear_jail() -> None:
    """Kill every process in the jail but this one (and the jail's init), then empty ``/tmp``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    for entry in os.listdir("/tmp"):
        path = os.path.join("/tmp", entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _child(request: dict, fds: list[int]) -> int:
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    die_with_parent()
    directory = request["directory"]
    os.chdir(directory)
    os.environ.clear()  # as it was before the imports (scikit-learn sets OpenMP variables)
    os.environ.update(request["environment"])
    limit(Limits(**request["limits"]))()
    return child.run(request["task"])


def serve(control: socket.socket, environment: dict) -> None:
    while True:
        message, fds, _flags, _address = socket.recv_fds(control, 65536, 3)
        if not message:
            return  # the worker closed the socket: it is gone
        request = json.loads(message) | {"environment": environment}
        pid = os.fork()
        if pid == 0:
            control.close()
            try:
                code = _child(request, fds)
                sys.stdout.flush()
            except BaseException:  # noqa: BLE001 - anything a task does ends this process
                traceback.print_exc()
                code = 1
            os._exit(code)
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())
        _, status = os.waitpid(pid, 0)
        clear_jail()
        control.send(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode())


def main() -> int:
    die_with_parent()
    _libc().prctl(PR_SET_DUMPABLE, 0)
    control = socket.socket(fileno=int(sys.argv[1]))
    environment = dict(os.environ)
    for module in WARM:
        try:
            __import__(module)
        except ImportError:
            pass
    # What the imports made is never collected again, so a task's collections do not write to
    # (and copy) the pages it shares with this process (the gc module's advice for fork servers).
    gc.freeze()
    try:
        serve(control, environment)
    except OSError:  # the worker went away mid-answer
        pass
    return 0
