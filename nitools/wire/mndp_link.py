"""The station's ear for boards in service: UDP 5678 (MNDP) on each of its ports
(docs/verify.md). Announcements in, discovery requests out; never blocks.

On an interface: 0.0.0.0:5678 tied to it (SO_BINDTODEVICE), requests to
255.255.255.255:5678 on it only. On loopback (tests, demos): each netinstall port + 1.
"""

from __future__ import annotations

import logging

from nitools.errors import LinkError
from nitools.netinstall.mndp import DISCOVERY_REQUEST, MNDP_PORT, MndpError, Neighbour, parse
from nitools.wire.link import BroadcastLink, LoopbackLink, parse_loopback

log = logging.getLogger("nitools.verify")
DRAIN_LIMIT = 4096  # datagrams read per turn of the loop: a flood waits in the kernel
ASK_EVERY = 5.0  # seconds between discovery requests while boards are awaited


class MndpListener:
    def __init__(self, links: list[BroadcastLink | LoopbackLink]) -> None:
        self.links = links
        self.garbage = 0  # datagrams that were no announcement
        self.requests_seen = 0  # discovery requests (ours echoed, or other stations')

    @classmethod
    def open(cls, interfaces: tuple[str, ...], loopback: str | None, mac: bytes
             ) -> MndpListener:
        """LinkError when a port cannot be opened (another program holds UDP 5678)."""
        links: list[BroadcastLink | LoopbackLink] = []
        try:
            if loopback:
                local, peer = parse_loopback(loopback)
                links.append(LoopbackLink(local + 1, peer + 1, mac))
            else:
                for interface in interfaces:
                    links.append(BroadcastLink(interface, MNDP_PORT, mac))
        except LinkError:
            for link in links:
                link.close()
            raise
        return cls(links)

    def drain(self, limit: int = DRAIN_LIMIT) -> list[Neighbour]:
        heard = []
        for link in self.links:
            for data, _source_port, _interface in link.receive(limit):
                if data == DISCOVERY_REQUEST:
                    self.requests_seen += 1
                    continue
                try:
                    heard.append(parse(data))
                except MndpError:
                    self.garbage += 1
        return heard

    def ask(self) -> None:
        """Every RouterOS neighbour on our ports: announce yourself now."""
        for link in self.links:
            try:
                link.send(DISCOVERY_REQUEST)
            except LinkError as exc:  # the netinstall link reports a dead port itself
                log.debug("MNDP request not sent: %s", exc)

    def close(self) -> None:
        for link in self.links:
            link.close()
