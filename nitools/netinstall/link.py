"""Transports for netinstall frames.

``BroadcastLink``: UDP 0.0.0.0:5000 tied to one interface (SO_BINDTODEVICE),
sending to 255.255.255.255:5000 from port 5000, as boards require (§1). It
never sends an unbound broadcast: without an interface it cannot be created.

``LoopbackLink``: unicast on 127.0.0.1 between two ports, for tests and demos
that have no root and must not touch any real network.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from nitools.errors import LinkError
from nitools.netinstall.frame import MAX_DATAGRAM, Frame, FrameError, decode, format_mac, parse_mac

NETINSTALL_PORT = 5000
BROADCAST = "255.255.255.255"
SYS_NET = Path("/sys/class/net")
_BUFFER_BYTES = 4 * 1024 * 1024


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
    """Shared socket handling: non-blocking receive, frame filtering."""

    def __init__(self, sock: socket.socket, mac: bytes, peer: tuple[str, int]) -> None:
        self.sock = sock
        self.mac = mac
        self.peer = peer
        self.ignored_senders: set[bytes] = {mac}

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, datagram: bytes) -> None:
        try:
            self.sock.sendto(datagram, self.peer)
        except BlockingIOError:
            pass  # the send buffer is full: the frame counts as lost and is resent
        except OSError as exc:
            raise LinkError(f"cannot send on {self.describe()}: {exc.strerror}") from exc

    def receive(self) -> list[tuple[bytes, int]]:
        """All datagrams waiting now, as (datagram, UDP source port)."""
        out = []
        while True:
            try:
                data, address = self.sock.recvfrom(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                return out
            out.append((data, address[1]))

    def receive_frames(self) -> list[Frame]:
        """Well-formed frames from the peer port, without our own echoes."""
        frames = []
        for data, source_port in self.receive():
            if source_port != self.peer[1]:
                continue  # e.g. a v7 board's copies to port 59813
            try:
                frame = decode(data)
            except FrameError:
                continue
            if frame.src not in self.ignored_senders:
                frames.append(frame)
        return frames

    def close(self) -> None:
        self.sock.close()

    def describe(self) -> str:
        raise NotImplementedError


class BroadcastLink(_UdpLink):
    def __init__(self, interface: str, port: int = NETINSTALL_PORT, mac: bytes | None = None
                 ) -> None:
        name, iface_mac = resolve_interface(interface)
        self.interface = name
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            _enlarge_buffers(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, name.encode())
            sock.bind(("0.0.0.0", port))
        except PermissionError as exc:
            sock.close()
            raise LinkError(f"binding to interface {name} needs root (or CAP_NET_RAW): "
                            "run with sudo") from exc
        except OSError as exc:
            sock.close()
            raise LinkError(f"cannot open UDP port {port} on {name}: {exc.strerror} "
                            "(is another netinstall server running?)") from exc
        sock.setblocking(False)
        super().__init__(sock, mac or iface_mac, (BROADCAST, port))

    def describe(self) -> str:
        return f"interface {self.interface}"


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
