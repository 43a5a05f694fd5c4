"""Emulated boards after their reboot: they announce themselves with MNDP as a booted
RouterOS does (docs/verify.md), so that a station can verify them.

``after`` seconds after a board took TERM it announces, then every ``repeat`` seconds
and at once when asked (the four zero bytes of a discovery request). Version: the system
package the board received, unless given; identity: what its first-boot script sets,
unless given, else ``MikroTik``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nitools.netinstall.device import DeviceSession, DeviceState
from nitools.netinstall.mndp import DISCOVERY_REQUEST, Neighbour, build
from nitools.netinstall.protocol import CONFIG_SCRIPT_NAME
from nitools.routeros.identity import scripted_identity
from nitools.routeros.npk import read_package

DEFAULT_IDENTITY = "MikroTik"


class MndpSpeaker:
    def __init__(self, link: Any, boards: list[DeviceSession], after: float,
                 version: str | None = None, identity: str | None = None,
                 repeat: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.boards = boards
        self.after = after
        self.version = version
        self.identity = identity
        self.repeat = repeat
        self.clock = clock
        self.announcements = 0
        self._rebooted_at: dict[int, float] = {}
        self._next: dict[int, float] = {}
        self._sequence = 0

    def tick(self) -> None:
        now = self.clock()
        asked = any(datagram[0] == DISCOVERY_REQUEST for datagram in self.link.receive(256))
        for board in self.boards:
            key = id(board)
            if board.state is DeviceState.REBOOTED and key not in self._rebooted_at:
                self._rebooted_at[key] = now
            started = self._rebooted_at.get(key)
            if started is None or now < started + self.after:
                continue  # not booted yet
            if asked or now >= self._next.get(key, 0.0):
                self._announce(board)
                self._next[key] = now + self.repeat

    def all_announced(self) -> bool:
        """Every board that rebooted has announced itself at least once."""
        return all(id(board) in self._next for board in self.boards
                   if board.state is DeviceState.REBOOTED)

    def _announce(self, board: DeviceSession) -> None:
        self._sequence += 1
        announcement = board.announcement
        self.link.send(build(Neighbour(
            mac=board.mac, identity=self.identity or _identity(board),
            version=f"{self.version or _version(board)} (stable)", platform="MikroTik",
            uptime=int(self.clock() - self._rebooted_at[id(board)]),
            software_id=announcement.software_id, board=announcement.model,
            interface="ether1"), self._sequence))
        self.announcements += 1


def _version(board: DeviceSession) -> str:
    for received in board.files:
        if received.name.endswith(".npk") and received.complete:
            try:
                package = read_package(received.data)
            except Exception:  # a synthetic board may receive anything; it says so below
                continue
            if package.is_system:
                return str(package.version)
    return "0.0"


def _identity(board: DeviceSession) -> str:
    script = next((f.data for f in board.files if f.name == CONFIG_SCRIPT_NAME), None)
    return scripted_identity(script) or DEFAULT_IDENTITY
