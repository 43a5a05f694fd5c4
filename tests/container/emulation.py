"""Run a command where foreign-architecture programs run under qemu-user, without
touching this machine's own binfmt_misc: ``python -m tests.container.emulation CMD ...``.

As root: a child unshares a user namespace (uids and gids 0-65535 mapped to themselves)
and a mount namespace, mounts a binfmt_misc of its own (Linux 6.7+: one per user
namespace), registers qemu-user for aarch64 and arm from the qemu-user-static package
(flag F: the interpreter is opened now, so it works inside a chroot too), and executes
CMD. Root inside that namespace has no privilege over the network namespaces of the
host: commands that need them (the lab's station) run qemu-user directly instead.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_REC, MS_PRIVATE = 0x4000, 0x40000
BINFMT_CONF = Path("/usr/lib/binfmt.d")
QEMU_ARCHES = ("aarch64", "arm")


class EmulationUnavailable(Exception):
    pass


def available() -> str | None:
    """Why foreign binaries cannot run here, or None."""
    if os.geteuid() != 0:
        return "emulated images need root (a user namespace with a binfmt_misc of its own)"
    missing = [a for a in QEMU_ARCHES if not (BINFMT_CONF / f"qemu-{a}.conf").exists()]
    if missing:
        return "qemu-user-static is not installed (Debian: apt-get install qemu-user-static)"
    return None


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise EmulationUnavailable(f"{what}: {os.strerror(number)}")


def _child(argv: list[str], ready_write: int, go_read: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare a user namespace")
    os.write(ready_write, b"u")
    os.read(go_read, 1)  # the parent has written our uid and gid maps
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    _check(libc.mount(b"binfmt_misc", b"/proc/sys/fs/binfmt_misc", b"binfmt_misc", 0, None),
           "mount binfmt_misc (Linux 6.7 or newer is needed)")
    for arch in QEMU_ARCHES:
        line = (BINFMT_CONF / f"qemu-{arch}.conf").read_text().strip()
        Path("/proc/sys/fs/binfmt_misc/register").write_text(line)
    os.execvp(argv[0], argv)


def run(argv: list[str]) -> int:
    """Run ``argv`` with qemu-user registered; its exit code."""
    reason = available()
    if reason is not None:
        raise EmulationUnavailable(reason)
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_read)
            os.close(go_write)
            _child(argv, ready_write, go_read)
        except BaseException as exc:
            print(f"emulation: {exc}", file=sys.stderr, flush=True)
        os._exit(127)
    os.close(ready_write)
    os.close(go_read)
    try:
        if os.read(ready_read, 1) == b"u":
            for name in ("uid_map", "gid_map"):
                Path(f"/proc/{pid}/{name}").write_text("0 0 65536\n")
        os.write(go_write, b"g")
    finally:
        os.close(go_write)
        os.close(ready_read)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
