"""``nitools flash`` serves no BOOTP: a board whose boot loader asks for its boot image on
the flashing port waits for ever, where MikroTik's netinstall-cli would have answered.
This watches the port for such requests, without taking UDP 67 from a DHCP server that
may be started beside it (a packet socket with a kernel filter: only UDP to port 67 comes
up), and says once per MAC what to do.

Needs CAP_NET_RAW, as binding the flashing socket to its interface does; without it the
watch is left out (logged at DEBUG)."""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass

from nitools.bounded import Bounded
from nitools.netinstall.frame import format_mac
from nitools.wire.socket_filter import (
    DROP,
    JUMP_IF_ANY_BIT,
    JUMP_IF_EQUAL,
    KEEP,
    LOAD_BYTE,
    LOAD_HALF,
    LOAD_HALF_AT_X,
    LOAD_HEADER_LENGTH,
    Instruction,
    attach,
)

log = logging.getLogger("nitools.flash")

ETH_P_IP = 0x0800
REMEMBERED = 4096  # MACs told about (a flood of made-up MACs is told about once each)
TOLD_PER_RUN = 64  # at most this many lines in a run: past them, counted
MAGIC = b"\x63\x82\x53\x63"
# Classic BPF over an IPv4 packet (a SOCK_DGRAM packet socket starts at the IP header):
# UDP, not a fragment, destination port 67; anything else never leaves the kernel.
_FILTER: list[Instruction] = [
    (LOAD_BYTE, 0, 0, 9),             # protocol
    (JUMP_IF_EQUAL, 0, 6, 17),        # UDP, else drop
    (LOAD_HALF, 0, 0, 6),             # flags and fragment offset
    (JUMP_IF_ANY_BIT, 4, 0, 0x1FFF),  # a fragment: drop
    (LOAD_HEADER_LENGTH, 0, 0, 0),    # x = the IP header's length
    (LOAD_HALF_AT_X, 0, 0, 2),        # the UDP destination port
    (JUMP_IF_EQUAL, 0, 1, 67),        # port 67: keep, else drop
    KEEP,
    DROP,
]
ADVICE = ("asks for a boot image over BOOTP and nothing here serves it: use 'nitools "
          "station' (BOOTP, TFTP and flashing in one), or serve it with 'nitools dnsmasq "
          "--run'")


@dataclass(frozen=True)
class BootRequest:
    mac: bytes
    vendor_class: str  # option 60, "" when absent
    dhcp: bool  # a DHCP message type (option 53): RouterBOOT sends bare BOOTP


def boot_request(packet: bytes) -> BootRequest | None:
    """A BOOTP/DHCP request in an IPv4 packet, or None."""
    if len(packet) < 20:
        return None
    header = (packet[0] & 0x0F) * 4
    bootp = packet[header + 8:]
    if len(bootp) < 240 or bootp[0] != 1 or bootp[2] != 6:  # a request, Ethernet MACs
        return None
    vendor, dhcp = "", False
    if bootp[236:240] == MAGIC:
        index = 240
        while index + 1 < len(bootp) and bootp[index] != 255:
            code = bootp[index]
            if code == 0:
                index += 1
                continue
            length = bootp[index + 1]
            value = bootp[index + 2:index + 2 + length]
            if code == 60:
                vendor = value.decode("ascii", "replace")
            elif code == 53:
                dhcp = True
            index += 2 + length
    return BootRequest(bytes(bootp[28:34]), vendor, dhcp)


def is_boot_loader(request: BootRequest) -> bool:
    """RouterBOOT asks with bare BOOTP, or with a vendor class that names its image
    (``ARM64__boot``, ``MMipsBoot``, ...); a laptop's DHCP client is neither."""
    vendor = request.vendor_class.lower()
    return not request.dhcp or "boot" in vendor


class BootpWatch:
    """One packet socket per flashing interface, read in a thread of its own."""

    def __init__(self, interfaces: tuple[str, ...]) -> None:
        self.sockets: list[tuple[str, socket.socket]] = []
        self._told: Bounded[bytes, None] = Bounded(REMEMBERED)
        self.not_told = 0
        self._thread: threading.Thread | None = None
        for name in interfaces:
            try:
                sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                                     socket.htons(ETH_P_IP))
            except OSError as exc:  # no CAP_NET_RAW: nothing watched, nothing broken
                log.debug("not watching %s for BOOTP requests: %s", name, exc.strerror)
                continue
            try:
                attach(sock, _FILTER)
                sock.bind((name, ETH_P_IP))
            except OSError as exc:
                sock.close()
                log.debug("not watching %s for BOOTP requests: %s", name, exc.strerror)
                continue
            sock.settimeout(0.5)
            self.sockets.append((name, sock))

    def start(self) -> None:
        if self.sockets:
            self._thread = threading.Thread(target=self._watch, name="bootp-watch",
                                            daemon=True)
            self._thread.start()

    def close(self) -> None:
        sockets, self.sockets = self.sockets, []
        for _, sock in sockets:
            sock.close()
        if self._thread is not None:
            self._thread.join(2)

    def seen(self, name: str, request: BootRequest) -> None:
        """Say it once per MAC (the boot loader asks again every few seconds)."""
        if not is_boot_loader(request) or request.mac in self._told:
            return
        self._told.put(request.mac, None)
        if len(self._told) > TOLD_PER_RUN:
            self.not_told += 1
            return
        asked = f" as {request.vendor_class}" if request.vendor_class else ""
        log.warning("%s %s%s %s", name, format_mac(request.mac), asked, ADVICE)

    def _watch(self) -> None:
        while self.sockets:
            for name, sock in list(self.sockets):
                try:
                    packet = sock.recv(2048)
                except TimeoutError:
                    continue
                except OSError:
                    return  # closed: the run is over
                request = boot_request(packet)
                if request is not None:
                    self.seen(name, request)

