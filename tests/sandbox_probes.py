"""Tasks for the sandbox's tests: each misbehaves in one way (run only inside the sandbox)."""

import os
import socket
import time


def environment(payload, directory):
    return {
        "variables": sorted(os.environ), "cwd": str(directory), "files": sorted(os.listdir(directory)),
        "parent": os.getppid(),
    }  # fmt: skip


def allocate(payload, directory):
    blocks = []
    while True:
        blocks.append(bytearray(64 * 1024 * 1024))


def sleep(payload, directory):
    time.sleep(600)
    return {}


def spin(payload, directory):
    while True:
        pass


def crash(payload, directory):
    raise RuntimeError("the model's loader blew up")


def connect(payload, directory):
    try:
        socket.create_connection(("127.0.0.1", payload["port"]), timeout=3).close()
    except OSError as error:
        return {"connected": False, "error": str(error)}
    return {"connected": True}
