"""Tasks for the sandbox's tests: each misbehaves in one way (run only inside the sandbox)."""

import gc
import os
import socket
import sys
import time


def environment(payload, directory):
    return {
        "variables": sorted(os.environ), "cwd": str(directory), "files": sorted(os.listdir(directory)),
        "parent": os.getppid(),
    }  # fmt: skip


def warm(payload, directory):
    """Which of ``payload["modules"]`` the task found imported, and how many objects it
    inherited frozen (``gc.freeze``)."""
    return {"imported": [name for name in payload["modules"] if name in sys.modules], "frozen": gc.get_freeze_count()}


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


def _attempt(action) -> str:
    """ "allowed" when ``action`` succeeds, else the error it met."""
    try:
        action()
    except OSError as error:
        return f"refused: {error.strerror or error}"
    return "allowed"


def _libc_call(name, *arguments) -> str:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*arguments) == 0:
        return "allowed"
    return f"refused: {os.strerror(ctypes.get_errno())}"


def escape(payload, directory):
    """Hostile code's every way out of the jail, each tried and reported."""
    import ctypes

    worker = payload["worker_pid"]
    results = {}
    results["read worker environ"] = _attempt(lambda: open(f"/proc/{worker}/environ", "rb").read())
    results["signal worker"] = _attempt(lambda: os.kill(worker, 0))
    for name, path in payload["read"].items():
        results[f"read {name}"] = _attempt(lambda path=path: open(path, "rb").read(1))
    for name, path in payload["write"].items():
        results[f"write {name}"] = _attempt(lambda path=path: open(path, "ab").write(b"x"))
    for name, path in payload["sockets"].items():
        sock = socket.socket(socket.AF_UNIX)
        results[f"connect {name}"] = _attempt(lambda sock=sock, path=path: sock.connect(path))
    results["connect host tcp"] = _attempt(lambda: socket.create_connection(("127.0.0.1", payload["port"]), 2))
    namespace = os.open("/proc/self/ns/net", os.O_RDONLY)
    results["setns"] = _libc_call("setns", namespace, 0)
    results["unshare"] = _libc_call("unshare", 0x40000000)
    results["unshare user"] = _libc_call("unshare", 0x10000000)
    results["mount"] = _libc_call("mount", b"none", b"/tmp", b"tmpfs", 0, None)
    results["ptrace"] = _libc_call("ptrace", 16, 1, None, None)
    buffer = ctypes.create_string_buffer(8)
    iovec = (ctypes.c_void_p * 2)(ctypes.cast(buffer, ctypes.c_void_p), 8)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.process_vm_readv.restype = ctypes.c_ssize_t
    read = libc.process_vm_readv(1, iovec, 1, iovec, 1, 0)
    results["process_vm_readv"] = "allowed" if read >= 0 else f"refused: {os.strerror(ctypes.get_errno())}"
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    processes = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    commands = [open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode() for pid in processes]
    results["status"] = {key: status[key].strip() for key in ("Uid", "CapEff", "CapBnd", "NoNewPrivs", "Seccomp")}
    results["processes"] = commands
    results["root"] = sorted(os.listdir("/"))
    results["sandbox"] = sorted(os.listdir("/sandbox"))
    if os.fork() == 0:  # a double-forked process that tries to outlive the check
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", str(payload["linger"])])
        os._exit(0)
    return results


def escape_as_check(payload, directory):
    """``escape`` in a check's place: the worker records what it reached as the check's result."""
    return {"passed": False, "summary": "a hostile probe ran", "details": {"escape": escape(payload, directory)}}
