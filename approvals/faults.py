"""Fault injection for the fault tests, off unless a worker is started with ``SIGNOFF_FAULT``.

A worker started with ``SIGNOFF_FAULT=<point>`` kills its whole process group with SIGKILL (as
``kill -9`` of the worker would) the first time it reaches that point; the marker file named by
``SIGNOFF_FAULT_MARKER`` records that it happened, so the worker started next runs through.
"""

import os
import signal
import time


def fault_point(name: str, note: str = "") -> None:
    """Kill the worker here, once; ``note`` is written to the marker for the test to read."""
    if os.environ.get("SIGNOFF_FAULT") != name:
        return
    try:
        marker = os.open(os.environ["SIGNOFF_FAULT_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(marker, note.encode())
    os.close(marker)
    os.killpg(os.getpgid(0), signal.SIGKILL)


def fault_pause(name: str, key: str) -> None:
    """Make this point slow for ``key`` (a slow model, say): a worker started with
    ``SIGNOFF_FAULT=pause:<name>:<key>:<seconds>`` sleeps here that long each time."""
    prefix = f"pause:{name}:{key}:"
    fault = os.environ.get("SIGNOFF_FAULT", "")
    if fault.startswith(prefix):
        time.sleep(float(fault.removeprefix(prefix)))
