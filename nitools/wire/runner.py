"""THE loop: moves datagrams between a link and a pure protocol machine (the
station core or the emulated boards), runs their timers, hands preparation
work to worker threads, and passes events on. The same ``step`` runs in real
time (``run``: socket, selector, a short poll before sleeping) and in virtual
time (``run_virtual``: in-memory links, a clock that jumps to the next timer).
"""

from __future__ import annotations

import concurrent.futures
import queue
import selectors
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from nitools.netinstall.frame import Frame, FrameError, decode
from nitools.wire.link import Datagram, Link

MAX_WAIT = 0.5  # upper bound for one select(), so stop requests are seen
PREPARING_WAIT = 0.02  # look at worker threads this often while they run
TICK = 0.1  # live display refresh interval
# A board answers a frame within tens of microseconds; going to sleep in the kernel
# and waking up again costs as much, so while a transfer runs the loop first polls
# the socket for this long. This took one board from 12.6 to 22-34 MB/s.
SPIN = 0.0002


class Machine(Protocol):
    """A pure protocol machine: frames and time in, frames out."""

    own_macs: frozenset[bytes]  # frames from these are our own broadcasts, looped back

    def receive(self, frame: Frame, now: float, port: str | None = None) -> list[Frame]: ...
    def poll(self, now: float) -> list[Frame]: ...
    def next_deadline(self) -> float | None: ...
    def busy(self) -> bool: ...
    def done(self, now: float) -> bool: ...
    def request_stop(self, now: float) -> None: ...
    def close(self, now: float) -> None: ...
    def take_events(self) -> list[Any]: ...
    def take_requests(self) -> list[Any]: ...
    def prepared(self, mac: bytes, result: Any, now: float) -> list[Frame]: ...


class InlineExecutor:
    """Runs work at once in the calling thread: virtual time has no threads."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


class DaemonPool:
    """Worker threads for preparation that never hold the process at exit: a download
    stuck on a silent server must not keep a stopped station alive (its result is
    dropped; the board was never offered)."""

    def __init__(self, workers: int = 4) -> None:
        self._jobs: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[..., Any],
                                            tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"prepare-{index}",
                                          daemon=True) for index in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._jobs.put((future, fn, args))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to whoever reads the future
                future.set_exception(exc)


class Runner:
    """Drives one machine over one link (plus send-only mirror links)."""

    def __init__(self, link: Link, machine: Machine, *,
                 clock: Callable[[], float] = time.monotonic,
                 work: Callable[[Any], Any] | None = None,
                 executor: Any = None,
                 on_event: Callable[[Any], None] | None = None,
                 on_tick: Callable[[], None] | None = None,
                 source_port: int | None = None,
                 mirrors: Iterable[Link] = ()) -> None:
        self.link = link
        self.machine = machine
        self.clock = clock
        self.work = work  # request -> result, run in a worker thread
        # Made now, not at the first board: a station under a pids limit must not find
        # out mid-run that it cannot start its workers. (The emulator needs none.)
        self.executor = executor if executor is not None or work is None else DaemonPool(4)
        self.on_event = on_event
        self.on_tick = on_tick
        self.source_port = source_port  # frames from any other UDP port are dropped
        self.mirrors = list(mirrors)  # every frame sent goes out on these too
        self.malformed = 0  # datagrams that did not decode
        self._pending: dict[concurrent.futures.Future[Any], Any] = {}
        self._stop_requests = 0
        self._stops_seen = 0
        self._next_tick = 0.0

    # --------------------------------------------------------------- control

    def request_stop(self) -> None:
        """Signal-safe and thread-safe: the loop tells the machine at its next turn."""
        self._stop_requests += 1

    # ------------------------------------------------------------- real time

    def run(self, timeout: float | None = None) -> None:
        """Until the machine is done, the timeout passes, or a stop ends it."""
        selector = selectors.DefaultSelector()
        selector.register(self.link.fileno(), selectors.EVENT_READ)
        end = None if timeout is None else self.clock() + timeout
        receive = self.link.receive
        try:
            while True:
                now = self.clock()
                self._take_stop_requests(now)
                if self.machine.done(now) or (end is not None and now >= end):
                    break
                # Read first and wait only when nothing is there: under load the next
                # frame has usually arrived already, and every system call counts.
                datagrams = receive()
                if not datagrams and self.machine.busy():
                    spin_until = now + SPIN
                    while not datagrams and self.clock() < spin_until:
                        datagrams = receive()
                if not datagrams:
                    selector.select(self.wait_time(now))
                    datagrams = receive()
                self.step(self.clock(), datagrams)
        finally:
            selector.close()
            self.finish()

    def wait_time(self, now: float) -> float:
        wait = PREPARING_WAIT if self._pending else MAX_WAIT
        deadline = self.machine.next_deadline()
        if deadline is not None:
            wait = min(wait, deadline - now)
        return max(wait, 0.0)

    # ------------------------------------------------------------------ step

    def step(self, now: float, datagrams: list[Datagram]) -> None:
        """Everything that is due now; never waits."""
        machine, send = self.machine, self.send
        receive, own_macs, wanted_port = machine.receive, machine.own_macs, self.source_port
        for data, source_port, port in datagrams:  # once per frame: nothing more than needed
            if wanted_port is not None and source_port != wanted_port:
                continue  # e.g. a v7 board's copies to port 59813
            try:
                frame = decode(data)
            except FrameError:
                self.malformed += 1
                continue
            if frame.src in own_macs:
                continue
            out = receive(frame, now, port)
            if out:
                send(out)
        if self._pending:
            self._collect(now)
        for request in machine.take_requests():
            self._pending[self._executor().submit(self.work, request)] = request
        send(machine.poll(now))
        self._dispatch()
        if self.on_tick is not None and now >= self._next_tick:
            self._next_tick = now + TICK
            self.on_tick()

    def send(self, frames: list[Frame]) -> None:
        link_send, mirrors = self.link.send, self.mirrors
        for frame in frames:
            datagram = frame.to_bytes()
            link_send(datagram)
            for mirror in mirrors:
                mirror.send(datagram)

    def finish(self) -> None:
        """The machine closes (interrupting what runs); workers are let go."""
        self.machine.close(self.clock())
        self._dispatch()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)

    # --------------------------------------------------------------- helpers

    def _executor(self) -> Any:
        if self.executor is None:
            self.executor = DaemonPool(4)
        return self.executor

    def _take_stop_requests(self, now: float) -> None:
        while self._stops_seen < self._stop_requests:
            self._stops_seen += 1
            self.machine.request_stop(now)

    def _collect(self, now: float) -> None:
        for future in [f for f in self._pending if f.done()]:
            request = self._pending.pop(future)
            self.send(self.machine.prepared(request.mac, future.result(), now))

    def _dispatch(self) -> None:
        events = self.machine.take_events()
        if events and self.on_event is not None:
            for event in events:
                self.on_event(event)

    def next_wakeup(self) -> float | None:
        """Virtual time: when this runner next has something to do."""
        if self._pending:
            return self.clock()
        return self.machine.next_deadline()


# ------------------------------------------------------------ virtual time


class VirtualClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def run_virtual(runners: list[Runner], clock: VirtualClock, network: Any,
                until: Callable[[], bool], limit: float = 600.0) -> float:
    """Step every runner, deliver what the network carries, jump to the next timer;
    until ``until()`` holds, nothing is left to happen, or ``limit`` seconds pass."""
    start = clock.now
    stalled = 0
    while clock.now - start < limit:
        network.deliver(clock.now)
        for runner in runners:
            runner.step(clock.now, runner.link.receive())
        if until():
            break
        wakeups = [w for r in runners if (w := r.next_wakeup()) is not None]
        delivery = network.next_delivery()
        if delivery is not None:
            wakeups.append(delivery)
        if not wakeups:
            break
        wakeup = min(wakeups)
        if wakeup > clock.now:
            clock.now, stalled = wakeup, 0
        else:  # something is due now; a timer that never clears must not spin forever
            stalled += 1
            if stalled > 1000:
                clock.now += 1e-6
    return clock.now - start
