"""Addresses for a whole shift: the station gives back the BOOTP lease of every board it
is done with, so a range serves boards one after the other, not once each.

dnsmasq keeps BOOTP leases for ever. A board needs its address only to load its boot
image; netinstall itself runs on broadcasts. So once a board has finished (any outcome),
has gone silent, or got an address and never announced itself within the announce
timeout, the station sends dnsmasq a DHCPRELEASE in the board's name (RFC 2131 §4.4.6:
the server frees the lease whose address and hardware address match), from the station's
own namespace, to its own address on that interface. A full range is said once per port,
loudly, with what to do (docs/station.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
from collections.abc import Callable, Iterable, Mapping

from nitools.bounded import Bounded
from nitools.netinstall import events
from nitools.netinstall.events import NetbootKind
from nitools.netinstall.frame import format_mac

log = logging.getLogger("nitools.netboot")

DHCP_SERVER_PORT = 67
REMEMBERED = 65536  # leases of boards not yet done with (a range holds at most this many)
_MAGIC = bytes([99, 130, 83, 99])
_RELEASE = 7  # DHCP message type


def release_message(mac: bytes, address: str, server: str) -> bytes:
    """A DHCPRELEASE of ``address`` held by ``mac``, for the server at ``server``."""
    xid = int.from_bytes(os.urandom(4), "big")
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0,
                         socket.inet_aton(address), bytes(4), bytes(4), bytes(4),
                         mac.ljust(16, b"\0"), b"", b"")
    options = _MAGIC + bytes([53, 1, _RELEASE, 54, 4]) + socket.inet_aton(server) + b"\xff"
    return (header + options).ljust(300, b"\0")


Send = Callable[[str, bytes, str], None]  # (interface, datagram, server address)


class LeaseKeeper:
    """Follows the station's events; gives back the leases of boards it is done with.
    ``servers``: each port's dnsmasq address; ``ranges``: how many addresses each hands
    out (for the full-range message)."""

    def __init__(self, servers: Mapping[str, str], ranges: Mapping[str, int],
                 announce_timeout: float, send: Send | None = None) -> None:
        self.servers = dict(servers)
        self.ranges = dict(ranges)
        self.announce_timeout = announce_timeout
        self.released = 0
        self._sockets: _Sockets | None = None
        if send is None:
            self._sockets = _Sockets(self.servers)
            send = self._sockets.send
        self._send = send
        # MAC -> (address, port, when it got it, whether it has announced itself)
        self._held: Bounded[bytes, tuple[str, str, float, bool]] = Bounded(REMEMBERED)
        self._full_said: set[str] = set()

    def __call__(self, event: events.BoardEvent) -> None:
        match event:
            case events.Netboot(kind=NetbootKind.DHCP, address=address, port=port) \
                    if address is not None and port in self.servers:
                self._held.put(event.mac, (address, port, event.at, False))
                self._give_back_unannounced(event.at)
            case events.Netboot(kind=NetbootKind.NO_ADDRESS, port=port):
                self._give_back_unannounced(event.at)
                self._say_full(port)
            case events.Netboot():
                self._give_back_unannounced(event.at)
            case events.Found():
                held = self._held.get(event.mac)
                if held is not None:
                    self._held[event.mac] = (*held[:3], True)
            case events.Finished(macs=macs):
                self._give_back((event.mac, *macs))
            case events.Silent():
                self._give_back((event.mac,))

    def _give_back(self, macs: Iterable[bytes]) -> None:
        for mac in dict.fromkeys(macs):
            held = self._held.pop(mac, None)
            if held is None:
                continue
            address, port, _, _ = held
            try:
                self._send(port, release_message(mac, address, self.servers[port]),
                           self.servers[port])
            except OSError as exc:  # the lease stays; dnsmasq keeps serving the others
                log.warning("%s: cannot give back %s of %s: %s", port, address,
                            format_mac(mac), exc.strerror)
                continue
            self.released += 1
            log.debug("%s: lease %s of %s given back", port, address, format_mac(mac))

    def _give_back_unannounced(self, now: float) -> None:
        """Boards that got an address and never announced themselves within the announce
        timeout (the oldest first: they got their addresses in this order)."""
        stale = []
        for mac, (_, _, at, announced) in self._held.items():
            if now - at < self.announce_timeout:
                break
            if not announced:
                stale.append(mac)
        self._give_back(stale)

    def _say_full(self, port: str | None) -> None:
        if port is None or port in self._full_said:
            return
        self._full_said.add(port)
        held = sum(1 for address, held_port, _, _ in self._held.values() if held_port == port)
        log.error("%s: the address range is full (%s addresses, %d held by boards being "
                  "installed or waiting to announce): boards get no address until one is "
                  "done; give a larger --range START,END (docs/station.md)", port,
                  self.ranges.get(port, "?"), held)

    def close(self) -> None:
        if self.released:
            log.info("%d addresses given back to dnsmasq this run", self.released)
        if self._sockets is not None:
            self._sockets.close()


class _Sockets:
    """One UDP socket per port, tied to its interface: a release goes to dnsmasq's own
    address there, never out on the wire as a broadcast."""

    def __init__(self, servers: Mapping[str, str]) -> None:
        self._sockets: dict[str, socket.socket] = {}
        for port in servers:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, port.encode())
                sock.setblocking(False)
            except OSError:
                sock.close()
                self.close()
                raise
            self._sockets[port] = sock

    def send(self, port: str, datagram: bytes, server: str) -> None:
        self._sockets[port].sendto(datagram, (server, DHCP_SERVER_PORT))

    def close(self) -> None:
        for sock in self._sockets.values():
            with contextlib.suppress(OSError):
                sock.close()
        self._sockets.clear()
