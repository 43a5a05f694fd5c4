"""Run a ServerSession against a DeviceSession in memory, on a virtual clock.

Frames travel through a seeded lossy "wire" with a fixed one-way delay, so
loss and duplication tests are deterministic and take no wall time.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field

from nitools.netinstall.device import DeviceSession
from nitools.netinstall.frame import decode
from nitools.netinstall.server import ServerSession

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
    now = 0.0
    queue: list[tuple[float, int, str, bytes]] = []  # (time, tiebreak, target, datagram)
    counter = itertools.count()
    server: ServerSession | None = None

    def to_device(datagrams: list[bytes], at: float) -> None:
        for data in datagrams:
            for _ in range(wire.copies()):
                heapq.heappush(queue, (at + wire.delay, next(counter), "device", data))

    def to_server(sent: list[tuple[int, bytes]], at: float) -> None:
        for _port, data in sent:
            for _ in range(wire.copies()):
                heapq.heappush(queue, (at + wire.delay, next(counter), "server", data))

    to_server(device.poll(now), now)
    while now < limit:
        deadlines = [d for d in (device.next_deadline(),
                                 server.next_deadline() if server else None) if d is not None]
        if queue:
            deadlines.append(queue[0][0])
        if not deadlines:
            break
        now = max(now, min(deadlines))
        while queue and queue[0][0] <= now:
            _, _, target, data = heapq.heappop(queue)
            if target == "device":
                wire.delivered_to_device.append(data)
                to_server(device.receive(0, data, SERVER_PORT, now), now)
            else:
                wire.delivered_to_server.append(data)
                frame = decode(data)
                if server is None:
                    if start_server_on_dscv and frame.payload.startswith(b"DSCV"):
                        from nitools.netinstall.messages import parse_dscv
                        server = make_server(parse_dscv(frame.payload), frame.src)
                        to_device(server.start(now), now)
                else:
                    to_device(server.receive(frame, now), now)
        to_server(device.poll(now), now)
        if server:
            to_device(server.poll(now), now)
        if server and server.finished and device.finished:
            break
        if server and server.finished and not queue and device.next_deadline() is None:
            break
    return Result(server, device, now, wire)
