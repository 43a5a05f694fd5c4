"""Run a ServerSession against an emulated board in memory, on a virtual clock.

Both sides are driven by the project's one runner over an in-memory network
(``MemoryNetwork``): frames travel through a seeded lossy "wire" with a fixed
one-way delay, so loss and duplication tests are deterministic and take no
wall time. The board side is the emulator's own machine (``EmulatorCore``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from nitools.emulation.emulator import EmulatorCore
from nitools.netinstall.device import DeviceSession
from nitools.netinstall.frame import Frame
from nitools.netinstall.messages import Announcement, parse_dscv
from nitools.netinstall.server import ServerSession
from nitools.wire.link import MemoryLink, MemoryNetwork
from nitools.wire.runner import Runner, VirtualClock, run_virtual

SERVER_MAC = bytes.fromhex("02aaaaaaaaaa")
SERVER_PORT = 5000


@dataclass
class Wire:
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0001
    seed: int = 1
    rng: random.Random = field(init=False)
    delivered_to_device: list[bytes] = field(default_factory=list)
    delivered_to_server: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def copies(self) -> int:
        if self.rng.random() < self.drop:
            return 0
        return 2 if self.rng.random() < self.duplicate else 1


class _WireNetwork(MemoryNetwork):
    def __init__(self, clock: VirtualClock, wire: Wire) -> None:
        super().__init__(clock, wire.delay)
        self.wire = wire

    def copies(self, sender: MemoryLink, receiver: MemoryLink, datagram: bytes) -> int:
        return self.wire.copies()

    def delivered(self, receiver: MemoryLink, datagram: bytes) -> None:
        to_server = receiver.mac == SERVER_MAC
        (self.wire.delivered_to_server if to_server else self.wire.delivered_to_device
         ).append(datagram)


class OneSession:
    """The flasher side of one board, as a runner machine: the session starts on the
    board's first announcement."""

    own_macs = frozenset({SERVER_MAC})

    def __init__(self, make_server: Callable[[Announcement, bytes], ServerSession],
                 start_on_dscv: bool) -> None:
        self.make_server = make_server
        self.start_on_dscv = start_on_dscv
        self.server: ServerSession | None = None

    def receive(self, frame: Frame, now: float, port: str | None = None) -> list[Frame]:
        if self.server is not None:
            return self.server.receive(frame, now)
        if self.start_on_dscv and frame.payload.startswith(b"DSCV"):
            self.server = self.make_server(parse_dscv(frame.payload), frame.src)
            return self.server.start(now)
        return []

    def poll(self, now: float) -> list[Frame]:
        return self.server.poll(now) if self.server is not None else []

    def next_deadline(self) -> float | None:
        return self.server.next_deadline() if self.server is not None else None

    def busy(self) -> bool:
        return False

    def done(self, now: float) -> bool:
        return False

    def request_stop(self, now: float) -> None:
        pass

    def close(self, now: float) -> None:
        pass

    def take_events(self) -> list:
        return self.server.take_events() if self.server is not None else []

    def take_requests(self) -> list:
        return []

    def prepared(self, mac: bytes, result: object, now: float) -> list[Frame]:
        return []


@dataclass
class Result:
    server: ServerSession | None
    device: DeviceSession
    elapsed: float
    wire: Wire


def run(device: DeviceSession, make_server, wire: Wire | None = None, limit: float = 600.0,
        start_server_on_dscv: bool = True) -> Result:
    """``make_server(announcement, device_mac)`` returns the session to run."""
    wire = wire or Wire()
    clock = VirtualClock()
    network = _WireNetwork(clock, wire)
    flasher = OneSession(make_server, start_server_on_dscv)
    boards = EmulatorCore([device])
    runners = [Runner(network.link(SERVER_MAC, SERVER_PORT), flasher, clock=clock),
               Runner(network.link(device.macs[0], SERVER_PORT), boards, clock=clock,
                      source_port=SERVER_PORT)]

    def settled() -> bool:
        server = flasher.server
        if server is None or not server.finished:
            return False
        return device.finished or (network.next_delivery() is None
                                   and device.next_deadline() is None)

    elapsed = run_virtual(runners, clock, network, until=settled, limit=limit)
    return Result(flasher.server, device, elapsed, wire)
