"""Who holds a UDP port in this network namespace: the ports in use (from
/proc/net/udp and udp6) and the processes behind a port, so "another DHCP server
listens on UDP 67" can say which one."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TABLES = ("/proc/net/udp", "/proc/net/udp6")


def _sockets() -> list[tuple[int, str]]:
    """(local port, socket inode) of every UDP socket in this namespace."""
    found = []
    for table in TABLES:
        with contextlib.suppress(OSError), open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                found.append((int(fields[1].rsplit(":", 1)[1], 16), fields[9]))
    return found


def ports_in_use() -> set[int]:
    return {port for port, _ in _sockets()}


def holders(port: int) -> list[str]:
    """The processes holding ``port`` ("dnsmasq (pid 812)"), as far as this user may see;
    a socket whose process cannot be seen is "a process of another user"."""
    inodes = {f"socket:[{inode}]" for held, inode in _sockets() if held == port}
    if not inodes:
        return []
    names = []
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (process / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        name = (process / "comm").read_text().strip()
                        names.append(f"{name} (pid {process.name})")
                        break
    return sorted(set(names)) or ["a process of another user"]


def held_by(port: int) -> str:
    """" (dnsmasq, pid 812)" for a message, or "" when nobody holds it."""
    who = holders(port)
    return f" ({', '.join(who)})" if who else ""
