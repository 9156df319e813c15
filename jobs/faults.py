"""Fault injection for the fault tests, off unless a worker is started with ``SIGNOFF_FAULT``.

A worker started with ``SIGNOFF_FAULT=<point>`` kills its whole process group with SIGKILL (as
``kill -9`` of the worker would) the first time it reaches that point; the marker file named by
``SIGNOFF_FAULT_MARKER`` records that it happened, so the worker started next runs through.
"""

import json
import os
import signal
import time
from collections.abc import Callable


def fault_point(name: str, note: Callable[[], str] | None = None) -> None:
    """Kill the worker here, once; what ``note()`` returns is written to the marker for the test
    to read (asked only then: a point is passed on every run of the work it marks)."""
    if os.environ.get("SIGNOFF_FAULT") != name:
        return
    try:
        marker = os.open(os.environ["SIGNOFF_FAULT_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(marker, (note() if note else "").encode())
    os.close(marker)
    os.killpg(os.getpgid(0), signal.SIGKILL)


def fault_pause(name: str, key: str) -> None:
    """Make this point slow for ``key`` (a slow model, say): a worker started with
    ``SIGNOFF_FAULT=pause:<name>:<key>:<seconds>`` sleeps here that long each time."""
    prefix = f"pause:{name}:{key}:"
    fault = os.environ.get("SIGNOFF_FAULT", "")
    if fault.startswith(prefix):
        time.sleep(float(fault.removeprefix(prefix)))


def fault_task(task: str, payload: dict) -> tuple[str, dict]:
    """The sandboxed task to run and its payload: ``task`` unless the worker was started with
    ``SIGNOFF_FAULT=task:<module:function>``, which runs that task in place of each check's own,
    with ``SIGNOFF_FAULT_PAYLOAD`` (JSON) and this worker's pid added to the payload. The jail
    tests' hostile code goes through the worker's own path so: its fork server, its environment,
    the uploaded artifact as input."""
    fault = os.environ.get("SIGNOFF_FAULT", "")
    if not fault.startswith("task:"):
        return task, payload
    extra = json.loads(os.environ.get("SIGNOFF_FAULT_PAYLOAD", "{}"))
    return fault.removeprefix("task:"), {**payload, **extra, "worker_pid": os.getpid()}
