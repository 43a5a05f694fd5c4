"""Several flashing ports served by one station: one loop, one core, one link.

``PortGroup`` presents several links (one per interface) as the one link the
runner drives. Each board is tied to the port it announced on: its frames go out
on that port only, and frames claiming its MAC on another port are dropped (a
forged copy, or a loop in the cabling) until it has been silent on its own port
for ``REBIND_AFTER`` seconds (the board was moved). A frame for a MAC no port has
heard goes out on every port.

The in-frame server MAC is the first port's MAC on every port: a board only needs
it to stay the same (docs/protocol.md §10), never compares it with the
Ethernet source.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Mapping
from typing import Any

from nitools.errors import UsageError
from nitools.wire.link import BroadcastLink, Datagram

REBIND_AFTER = 30.0
MAX_BOARDS = 65536  # MACs remembered; a flood of made-up ones must not grow memory
_SRC = slice(0, 6)  # the frame header's sender MAC
_DST = slice(6, 12)


class PortGroup:
    def __init__(self, links: Mapping[str, Any],
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not links:
            raise ValueError("a port group needs at least one link")
        self.links = dict(links)
        self.names = list(self.links)
        first = self.links[self.names[0]]
        self.mac = first.mac
        self.peer_port: int | None = first.peer_port
        self.clock = clock
        self.foreign_port_drops = 0
        self._port: dict[bytes, str] = {}  # board MAC -> its port
        self._heard: dict[bytes, float] = {}  # board MAC -> last heard on its port
        self._poll = select.epoll()
        self._by_fd = {}
        for name, link in self.links.items():
            self._poll.register(link.fileno(), select.EPOLLIN)
            self._by_fd[link.fileno()] = name

    def problem(self) -> str | None:
        """The first port whose interface went away (see BroadcastLink.problem)."""
        for link in self.links.values():
            problem = link.problem()
            if problem is not None:
                return problem
        return None

    def fileno(self) -> int:
        """Readable whenever any port has a datagram waiting (an epoll descriptor)."""
        return self._poll.fileno()

    def receive(self) -> list[Datagram]:
        """Each datagram with the port it arrived on (this group's name for it)."""
        out: list[Datagram] = []
        now = self.clock()
        for name, link in self.links.items():
            for data, source_port, _interface in link.receive():
                src = bytes(data[_SRC])
                if src == self.mac:  # our own broadcast, heard back: the runner drops it
                    out.append((data, source_port, name))
                    continue
                bound = self._port.get(src)
                if bound not in (None, name) and now - self._heard[src] < REBIND_AFTER:
                    self.foreign_port_drops += 1
                    continue
                self._port[src] = name
                self._heard[src] = now
                out.append((data, source_port, name))
        if len(self._heard) > MAX_BOARDS:
            self._trim(MAX_BOARDS // 2)
        return out

    def send(self, datagram: bytes) -> None:
        port = self._port.get(bytes(datagram[_DST]))
        if port is not None:
            self.links[port].send(datagram)
            return
        for link in self.links.values():
            link.send(datagram)

    def _trim(self, keep: int) -> None:
        """Forget the boards heard longest ago."""
        newest = sorted(self._heard.items(), key=lambda item: item[1])[-keep:]
        self._heard = dict(newest)
        self._port = {mac: self._port[mac] for mac in self._heard if mac in self._port}

    def describe(self) -> str:
        return "interfaces " + ", ".join(self.names)

    def close(self) -> None:
        self._poll.close()
        for link in self.links.values():
            link.close()


def open_ports(interfaces: tuple[str, ...]) -> BroadcastLink | PortGroup:
    """One interface: its link; several: one port group (each board tied to its port).
    Our own broadcasts, which Linux hands back to us, are dropped in the kernel: the
    station's MAC is the first port's on every port."""
    if len(interfaces) == 1:
        link = BroadcastLink(interfaces[0])
        link.drop_own_echoes()
        return link
    links: dict[str, BroadcastLink] = {}
    try:
        for interface in interfaces:
            link = BroadcastLink(interface)
            if link.interface in links:
                link.close()
                raise UsageError(f"-i {interface}: interface {link.interface} is given twice")
            links[link.interface] = link
            link.drop_own_echoes(next(iter(links.values())).mac)
    except BaseException:
        for link in links.values():
            link.close()
        raise
    return PortGroup(links)
