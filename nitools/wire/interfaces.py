"""Which interface is the flashing port when none is named: the evidence, not a guess.

The one Ethernet interface that is up, not a member of a bridge or bond, and not the one
the default route leaves by (on a PC that is the uplink, whose segment must never be
flashed). None or several: the station asks for -i instead of guessing."""

from __future__ import annotations

import contextlib
from pathlib import Path

ARPHRD_ETHER = 1


def default_route_interfaces(routes: str = "/proc/net/route") -> set[str]:
    """The interfaces IPv4's default route leaves by."""
    found = set()
    with contextlib.suppress(OSError), open(routes) as handle:
        for line in handle.readlines()[1:]:
            fields = line.split()
            if len(fields) > 1 and fields[1] == "00000000":
                found.add(fields[0])
    return found


def flashing_candidates(root: str = "/sys/class/net", routes: str = "/proc/net/route"
                        ) -> list[str]:
    """Ethernet interfaces that are up, not in a bridge or bond, not the default route's."""
    uplinks = default_route_interfaces(routes)
    names = []
    for path in sorted(Path(root).iterdir()):
        with contextlib.suppress(OSError, ValueError):
            if int((path / "type").read_text()) != ARPHRD_ETHER or path.name in uplinks:
                continue
            if (path / "operstate").read_text().strip() not in ("up", "unknown"):
                continue
            if (path / "master").exists() or path.name == "lo":
                continue
            names.append(path.name)
    return names
