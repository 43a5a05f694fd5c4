"""Transports for netinstall frames.

``BroadcastLink``: UDP 0.0.0.0:5000 tied to one interface (SO_BINDTODEVICE),
sending to 255.255.255.255:5000 from port 5000, as boards require (docs/protocol.md §1). It
never sends an unbound broadcast: without an interface it cannot be created.

``LoopbackLink``: unicast on 127.0.0.1 between two ports, for tests and demos
that have no root and must not touch any real network.

``MemoryNetwork``: a broadcast segment in memory with virtual time, whose
``MemoryLink``s the runner drives like sockets (unit tests, ``run_virtual``).

Links move datagrams only; ``frame.decode`` happens in the runner, and so does the
filtering of our own echoes where the kernel has not done it (``drop_own_echoes``).
Each datagram comes with the UDP port it was sent from and the station port
(interface) it arrived on: a board's port travels with its frames.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Protocol

from nitools.errors import LinkError
from nitools.netinstall.frame import format_mac, parse_mac
from nitools.netinstall.protocol import MAX_DATAGRAM
from nitools.wire.socket_filter import MOST_MACS, attach, udp_mac_filter

NETINSTALL_PORT = 5000
BROADCAST = "255.255.255.255"
SYS_NET = Path("/sys/class/net")
_BUFFER_BYTES = 4 * 1024 * 1024
SEND_FAILURE_LIMIT = 5.0  # seconds of nothing but failed sends before the link is given up

# (datagram, the UDP port it was sent from, the interface it arrived on: None on links
# that have none, such as loopback and memory links)
Datagram = tuple[bytes, int, "str | None"]


class Link(Protocol):
    """What the loop drives: one or several ports as one."""

    mac: bytes  # the station's own MAC on this link (frames from it are our echoes)
    peer_port: int | None  # frames from any other UDP port are dropped (None: any)

    def fileno(self) -> int: ...
    def send(self, datagram: bytes) -> None: ...
    def receive(self) -> list[Datagram]: ...
    def close(self) -> None: ...
    def describe(self) -> str: ...
    def problem(self) -> str | None:
        """Why the link cannot go on (its interface was removed), or None."""
        ...


def interface_mac(name: str) -> bytes:
    try:
        return parse_mac((SYS_NET / name / "address").read_text())
    except (OSError, ValueError) as exc:
        raise LinkError(f"cannot read the MAC of interface '{name}': "
                        "check the name with 'ip link'") from exc


def resolve_interface(name_or_mac: str) -> tuple[str, bytes]:
    """Accept an interface name or that interface's MAC; return (name, MAC)."""
    if (SYS_NET / name_or_mac).exists():
        return name_or_mac, interface_mac(name_or_mac)
    try:
        wanted = parse_mac(name_or_mac)
    except ValueError:
        raise LinkError(f"no network interface '{name_or_mac}': give a name from 'ip link' "
                        "or that interface's MAC address") from None
    for entry in sorted(SYS_NET.iterdir()) if SYS_NET.exists() else []:
        try:
            if parse_mac((entry / "address").read_text()) == wanted:
                return entry.name, wanted
        except (OSError, ValueError):
            continue
    raise LinkError(f"no network interface has MAC {format_mac(wanted)}: check 'ip link'")


class _UdpLink:
    """Shared socket handling: non-blocking send and receive."""

    def __init__(self, sock: socket.socket, mac: bytes, peer: tuple[str, int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sock = sock
        self.mac = mac
        self.peer = peer
        self.clock = clock
        self.send_errors = 0
        self._failing_since: float | None = None  # every send has failed since then
        self.port_name: str | None = None  # the interface it is tied to, if any

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, datagram: bytes) -> None:
        """A failed send is a lost frame (retransmission repairs it); only sends failing
        for SEND_FAILURE_LIMIT seconds on end stop the station, saying why."""
        try:
            self.sock.sendto(datagram, self.peer)
        except BlockingIOError:
            pass  # the send buffer is full: the frame counts as lost and is resent
        except OSError as exc:
            self.send_errors += 1
            now = self.clock()
            if self._failing_since is None:
                self._failing_since = now
            elif now - self._failing_since > SEND_FAILURE_LIMIT:
                raise LinkError(
                    f"cannot send on {self.describe()} for {SEND_FAILURE_LIMIT:g} s: "
                    f"{exc.strerror}: check that the interface is up and that no firewall "
                    "rule (nftables/iptables output) drops UDP port 5000") from exc
        else:
            if self._failing_since is not None:
                self._failing_since = None

    def drop_own_echoes(self, mac: bytes | None = None) -> None:
        """Frames from ``mac`` (this link's own by default) never come up: see the
        function of this name."""
        drop_own_echoes(self.sock, mac or self.mac)

    def keep_only_frames_for(self, macs: Collection[bytes]) -> bool:
        """Only frames addressed to one of ``macs`` come up (emulated boards: every
        broadcast on the segment reaches every emulator's socket, and waking each for
        frames of other boards costs the sender too). False: too many MACs to filter,
        everything comes up as before."""
        if len(macs) > MOST_MACS:
            return False
        attach(self.sock, udp_mac_filter(6, macs, keep=True))
        return True

    def receive(self, limit: int | None = None) -> list[Datagram]:
        """The datagrams waiting now (at most ``limit``)."""
        out: list[Datagram] = []
        port_name, recvfrom, append = self.port_name, self.sock.recvfrom, out.append
        left = -1 if limit is None else max(limit, 0)  # -1 never reaches 0: no limit
        while left:  # once per frame: names looked up once, above
            try:
                data, address = recvfrom(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                return out
            append((data, address[1], port_name))
            left -= 1
        return out

    @property
    def peer_port(self) -> int:
        """The UDP port the other side sends from."""
        return self.peer[1]

    def close(self) -> None:
        self.sock.close()

    def describe(self) -> str:
        raise NotImplementedError

    def problem(self) -> str | None:
        return None


class BroadcastLink(_UdpLink):
    def __init__(self, interface: str, udp_port: int = NETINSTALL_PORT,
                 mac: bytes | None = None) -> None:
        name, iface_mac = resolve_interface(interface)
        self.interface = name
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            _enlarge_buffers(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, name.encode())
            sock.bind(("0.0.0.0", udp_port))
        except PermissionError as exc:
            sock.close()
            raise LinkError(f"binding to interface {name} needs root (or CAP_NET_RAW, before "
                            "Linux 5.7): run with sudo") from exc
        except OSError as exc:
            sock.close()
            raise LinkError(f"cannot open UDP port {udp_port} on {name}: {exc.strerror} "
                            "(is another netinstall server running?)") from exc
        sock.setblocking(False)
        super().__init__(sock, mac or iface_mac, (BROADCAST, udp_port))
        self.index = socket.if_nametoindex(name)  # the socket is tied to this interface
        self.port_name = name

    def describe(self) -> str:
        return f"interface {self.interface}"

    def problem(self) -> str | None:
        """Whether the interface the socket is tied to is still there: one removed (and
        perhaps added again under its name) leaves the socket deaf for good."""
        try:
            index = socket.if_nametoindex(self.interface)
        except OSError:
            return (f"interface {self.interface} was removed: the station stops (start it "
                    "again once the interface is back)")
        if index != self.index:
            return (f"interface {self.interface} was removed and added again: the station "
                    "stops (start it again to listen on the new one)")
        return None


class LoopbackLink(_UdpLink):
    def __init__(self, local_port: int, peer_port: int, mac: bytes) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _enlarge_buffers(sock)
        try:
            sock.bind(("127.0.0.1", local_port))
        except OSError as exc:
            sock.close()
            raise LinkError(f"cannot open UDP 127.0.0.1:{local_port}: {exc.strerror}") from exc
        sock.setblocking(False)
        super().__init__(sock, mac, ("127.0.0.1", peer_port))

    def describe(self) -> str:
        return f"loopback 127.0.0.1:{self.sock.getsockname()[1]}->{self.peer[1]}"


def _enlarge_buffers(sock: socket.socket) -> None:
    # Windows of frames and many boards arrive in bursts; the default buffer drops them.
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, _BUFFER_BYTES)


def drop_own_echoes(sock: socket.socket, mac: bytes) -> None:
    """Linux hands every broadcast we send back to our own socket (IP_MULTICAST_LOOP
    does not stop it). A frame starts with its sender's MAC, so a kernel filter drops
    frames from ``mac`` before they cost a system call and a decode each: as many
    datagrams as the station sends."""
    attach(sock, udp_mac_filter(0, [mac], keep=False))


def parse_loopback(spec: str) -> tuple[int, int]:
    """``LOCAL:PEER`` ports for a loopback link."""
    try:
        local, peer = (int(p) for p in spec.split(":"))
    except ValueError:
        raise LinkError(f"--loopback wants LOCAL_PORT:PEER_PORT, not '{spec}'") from None
    if not (0 < local < 65536 and 0 < peer < 65536):
        raise LinkError(f"--loopback ports must be 1..65535, not '{spec}'")
    return local, peer


def local_admin_mac(seed: int) -> bytes:
    """A locally administered unicast MAC (02:...) for emulated and loopback peers."""
    return bytes([0x02, 0x4E, 0x49]) + (seed & 0xFFFFFF).to_bytes(3, "big")


class MemoryNetwork:
    """A broadcast segment in memory: every datagram reaches every other link after
    ``delay`` seconds of the given clock. Subclass ``copies`` for loss and duplication,
    ``delivered`` to watch the wire."""

    def __init__(self, clock: Callable[[], float], delay: float = 0.0001) -> None:
        self.clock = clock
        self.delay = delay
        self.links: list[MemoryLink] = []
        self._queue: list[tuple[float, int, MemoryLink, bytes, int]] = []
        self._order = itertools.count()

    def link(self, mac: bytes, udp_port: int = NETINSTALL_PORT) -> MemoryLink:
        link = MemoryLink(self, mac, udp_port)
        self.links.append(link)
        return link

    def copies(self, sender: MemoryLink, receiver: MemoryLink, datagram: bytes) -> int:
        """How many copies of a datagram arrive: 0 (lost), 1, or more (duplicated)."""
        return 1

    def delivered(self, receiver: MemoryLink, datagram: bytes) -> None:
        """Called for every datagram as it arrives."""

    def transmit(self, sender: MemoryLink, datagram: bytes) -> None:
        at = self.clock() + self.delay
        for receiver in self.links:
            if receiver is sender:
                continue
            for _ in range(self.copies(sender, receiver, datagram)):
                heapq.heappush(self._queue, (at, next(self._order), receiver, datagram,
                                             sender.udp_port))

    def deliver(self, now: float) -> None:
        while self._queue and self._queue[0][0] <= now:
            _, _, receiver, datagram, source_port = heapq.heappop(self._queue)
            self.delivered(receiver, datagram)
            receiver.inbox.append((datagram, source_port, None))

    def next_delivery(self) -> float | None:
        return self._queue[0][0] if self._queue else None


class MemoryLink:
    """One station or board on a MemoryNetwork; the runner's Link interface."""

    def __init__(self, network: MemoryNetwork, mac: bytes, udp_port: int) -> None:
        self.network = network
        self.mac = mac
        self.udp_port = udp_port  # the UDP port it sends from
        self.peer_port: int | None = None  # it takes frames from any port
        self.inbox: list[Datagram] = []

    def fileno(self) -> int:
        raise OSError("a memory link has no file descriptor: drive it with run_virtual")

    def send(self, datagram: bytes) -> None:
        self.network.transmit(self, datagram)

    def receive(self) -> list[Datagram]:
        taken, self.inbox = self.inbox, []
        return taken

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"memory link {format_mac(self.mac)}"

    def problem(self) -> str | None:
        return None
