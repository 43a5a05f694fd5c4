"""The one loop: what reaches the machine, what goes out on the link, stops, workers."""

from __future__ import annotations

import threading
from typing import Any

from nitools.netinstall.frame import Frame
from nitools.wire.link import LoopbackLink, MemoryNetwork, local_admin_mac
from nitools.wire.runner import InlineExecutor, Runner, VirtualClock

OURS = local_admin_mac(1)
BOARD = local_admin_mac(2)


class RecordingMachine:
    """A machine that records what the runner hands it and answers as told."""

    def __init__(self) -> None:
        self.own_macs = frozenset({OURS})
        self.received: list[Frame] = []
        self.stops: list[float] = []
        self.prepared_results: list[tuple[bytes, Any]] = []
        self.requests: list[Any] = []
        self.events: list[Any] = []
        self.answer: list[Frame] = []
        self.closed = False

    def receive(self, frame: Frame, now: float, port: str | None = None) -> list[Frame]:
        self.received.append(frame)
        return self.answer

    def poll(self, now: float) -> list[Frame]:
        return []

    def next_deadline(self) -> float | None:
        return None

    def busy(self) -> bool:
        return False

    def done(self, now: float) -> bool:
        return bool(self.stops)

    def request_stop(self, now: float) -> None:
        self.stops.append(now)

    def close(self, now: float) -> None:
        self.closed = True

    def take_events(self) -> list[Any]:
        taken, self.events = self.events, []
        return taken

    def take_requests(self) -> list[Any]:
        taken, self.requests = self.requests, []
        return taken

    def prepared(self, mac: bytes, result: Any, now: float) -> list[Frame]:
        self.prepared_results.append((mac, result))
        return [Frame(OURS, mac, 1, 0, b"OFFR\n\n\n\n\0")]


def frame(src: bytes = BOARD, seq: int = 1) -> bytes:
    return Frame(src, bytes(6), seq, 0, b"DSCV\n").to_bytes()


def runner_on_memory(machine: RecordingMachine, **kwargs: Any) -> tuple[Runner, Any, Any]:
    clock = VirtualClock()
    network = MemoryNetwork(clock)
    ours, theirs = network.link(OURS), network.link(BOARD)
    return Runner(ours, machine, clock=clock, **kwargs), network, theirs


def test_garbage_is_counted_and_never_reaches_the_machine():
    machine = RecordingMachine()
    runner, _, _ = runner_on_memory(machine)
    runner.step(0.0, [(b"\x00" * 5, 5000, None), (frame(), 5000, None)])
    assert runner.malformed == 1
    assert [f.src for f in machine.received] == [BOARD]


def test_frames_from_another_udp_port_and_our_own_broadcasts_are_dropped():
    machine = RecordingMachine()
    runner, _, _ = runner_on_memory(machine, source_port=5000)
    runner.step(0.0, [(frame(), 59813, None), (frame(OURS), 5000, None),
                      (frame(seq=1), 5000, None)])
    assert len(machine.received) == 1 and machine.received[0].src == BOARD


def test_what_the_machine_answers_goes_out_on_the_link_and_every_mirror():
    machine = RecordingMachine()
    clock = VirtualClock()
    network = MemoryNetwork(clock, delay=0.0)
    ours, board = network.link(OURS), network.link(BOARD)
    watcher = network.link(local_admin_mac(3))
    mirror = network.link(local_admin_mac(4))
    machine.answer = [Frame(OURS, BOARD, 1, 0, b"OFFR\n\n\n\n\0")]
    runner = Runner(ours, machine, clock=clock, mirrors=[mirror])
    runner.step(0.0, [(frame(), 5000, None)])
    network.deliver(1.0)
    copies = [datagram[0] for datagram in watcher.receive()]
    assert copies.count(machine.answer[0].to_bytes()) == 2  # once from the link, once mirrored
    assert [datagram[0] for datagram in board.receive()].count(machine.answer[0].to_bytes()) == 2


def test_each_stop_request_reaches_the_machine_once_at_its_next_turn():
    machine = RecordingMachine()
    runner, _, _ = runner_on_memory(machine)
    runner.request_stop()
    runner.request_stop()
    assert machine.stops == []  # signal-safe: nothing happens inside the handler
    runner._take_stop_requests(3.0)
    runner._take_stop_requests(4.0)
    assert machine.stops == [3.0, 3.0]


def test_preparation_runs_on_a_worker_and_its_result_is_handed_back():
    machine = RecordingMachine()
    asked: list[Any] = []

    def work(request: Any) -> str:
        asked.append(request.mac)
        return f"plan for {request.mac.hex()}"

    runner, _, _ = runner_on_memory(machine, work=work, executor=InlineExecutor())
    machine.requests = [_Request()]
    runner.step(0.0, [])
    assert asked == [BOARD] and machine.prepared_results == []  # collected at the next turn
    runner.step(0.1, [])
    assert machine.prepared_results == [(BOARD, f"plan for {BOARD.hex()}")]


class _Request:
    mac = BOARD


def test_events_go_to_the_observer_in_order_and_ticks_are_paced():
    machine = RecordingMachine()
    seen: list[Any] = []
    ticks: list[float] = []
    runner, _, _ = runner_on_memory(machine, on_event=seen.append,
                                    on_tick=lambda: ticks.append(1.0))
    machine.events = ["found", "offered"]
    runner.step(0.0, [])
    runner.step(0.01, [])  # within one tick interval: no second tick
    assert seen == ["found", "offered"] and len(ticks) == 1


def test_run_on_a_real_socket_stops_on_request_and_closes_the_machine():
    machine = RecordingMachine()
    link = LoopbackLink(0, 9, OURS)
    try:
        runner = Runner(link, machine)
        timer = threading.Timer(0.2, runner.request_stop)
        timer.start()
        runner.run(timeout=10)
        timer.join()
    finally:
        link.close()
    assert len(machine.stops) == 1 and machine.closed
