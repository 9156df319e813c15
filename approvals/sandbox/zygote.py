"""The sandbox's fork server: a process that has already imported what checks need (NumPy,
pandas, scikit-learn, fairlearn), so a sandboxed task starts in milliseconds instead of the
seconds those imports take in a fresh interpreter.

It is started by a worker process (``approvals.sandbox.Zygote``) like any sandboxed process:
``python -I``, a stripped environment, no Django, no secrets. It never opens an input itself.
For each request on its control socket (a JSON line and three pipe ends: stdin, stdout,
stderr) it forks a child that puts itself in its own directory and process group, drops the
network, applies the resource limits and then runs the task exactly as
``approvals.sandbox.child`` would; the zygote answers with the child's pid, then with its exit
status. It dies with the worker (``PR_SET_PDEATHSIG``), and each child dies with it.
"""

import ctypes
import json
import os
import signal
import socket
import sys
import traceback

from approvals.sandbox import NO_NETWORK, Limits, child, limit

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
    "approvals.sandbox.evaluation",
)
PR_SET_PDEATHSIG = 1
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def drop_network() -> bool:
    libc = _libc()
    return libc.unshare(CLONE_NEWNET) == 0 or libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0


def _child(request: dict, fds: list[int]) -> int:
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    die_with_parent()
    directory = request["directory"]
    os.chdir(directory)
    os.environ.clear()  # as it was before the imports (scikit-learn sets OpenMP variables)
    os.environ.update(request["environment"], HOME=directory, TMPDIR=directory)
    if request["isolate_network"] and not drop_network():
        return NO_NETWORK
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
        control.send(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode())


def main() -> int:
    die_with_parent()
    control = socket.socket(fileno=int(sys.argv[1]))
    environment = dict(os.environ)
    for module in WARM:
        try:
            __import__(module)
        except ImportError:
            pass
    try:
        serve(control, environment)
    except OSError:  # the worker went away mid-answer
        pass
    return 0
