"""The station loop: the engine driven over a link, with everything that feeds it
besides frames. Boards are prepared in worker threads (the per-board plan, after the
journal's ``--once`` answer), boards in service are heard on MNDP and asked for while
rebooted boards are awaited, what dnsmasq did for each board is taken in, and a stop
asked for (a signal, a dying dnsmasq) lets running installs finish. What happens goes
out through ``on_event`` and ``on_tick``; nothing here knows who watches.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from nitools.console import counted, install_stop_handlers
from nitools.errors import LinkError
from nitools.netboot.dnsmasq_log import Sighting
from nitools.netinstall.events import BoardEvent
from nitools.netinstall.frame import format_mac
from nitools.station.engine.contract import InstalledBefore, Prepared, PrepareRequest, Refusal
from nitools.station.engine.core import StationCore, StationResult
from nitools.station.engine.operator import Acted, Action, Verdict
from nitools.station.plan.payload import PayloadCache
from nitools.station.plan.prepare import prepare_or_refuse
from nitools.station.setup.port_setup import StationSetup
from nitools.wire.link import Link
from nitools.wire.mndp_link import ASK_EVERY, MndpListener
from nitools.wire.runner import Runner

log = logging.getLogger("nitools.flash")

SIGHTINGS_PER_TURN = 1024  # what dnsmasq saw, taken into the loop per turn at most
LINK_CHECK_EVERY = 1.0  # seconds between looks at whether the interface is still there
InstalledBeforeLookup = Callable[[str, str], "int | None"]  # (software ID, MAC) -> row


class StopRelay:
    """A stop asked for from another thread, before or after the loop exists: delivered
    to the loop as a signal's would be (the stop grace applies)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: Callable[[], None] | None = None
        self._pending = False

    def request(self) -> None:
        with self._lock:
            if self._target is None:
                self._pending = True
                return
            target = self._target
        target()

    def connect(self, target: Callable[[], None]) -> None:
        with self._lock:
            self._target = target
            pending, self._pending = self._pending, False
        if pending:
            target()


class OperatorDesk:
    """Where operators' requests (the control socket, the HTTP API) meet the loop: asked
    from their own threads, carried out by the engine on the loop's next turn (within a
    second), answered back."""

    ANSWER_WITHIN = 5.0  # seconds a request waits for the loop

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[tuple[Action | None, bytes | None, str,
                                                queue.SimpleQueue[object]]] = \
            queue.SimpleQueue()

    def act(self, action: Action, mac: bytes | None, by: str) -> list[tuple[bytes, Acted]]:
        """One action on one board, or (``mac`` None, approve only) on every held board:
        each board's answer."""
        answer = self._ask(action, mac, by)
        if isinstance(answer, Acted):  # no answer from the loop in time
            return [(mac or b"", answer)]
        return answer  # type: ignore[return-value]

    def boards(self) -> list[dict[str, object]]:
        """The run's boards with their phases and plans."""
        answer = self._ask(None, None, "")
        return answer if isinstance(answer, list) else []  # type: ignore[return-value]

    def _ask(self, action: Action | None, mac: bytes | None, by: str) -> object:
        reply: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._requests.put((action, mac, by, reply))
        try:
            return reply.get(timeout=self.ANSWER_WITHIN)
        except queue.Empty:
            return Acted(Verdict.CONFLICT, "", "the station did not answer in time: it is "
                         "stopping, or stuck")

    def serve(self, core: StationCore, now: float,
              send: Callable[[list], None]) -> None:
        """On the loop: carry out what was asked since the last turn."""
        while True:
            try:
                action, mac, by, reply = self._requests.get_nowait()
            except queue.Empty:
                return
            if action is None:
                reply.put(core.view())
                continue
            if mac is None:  # approve --all: every board held now
                answers = []
                for held in core.held_macs():
                    acted, frames = core.act(action, held, by, now)
                    send(frames)
                    answers.append((held, acted))
                reply.put(answers)
                continue
            acted, frames = core.act(action, mac, by, now)
            send(frames)
            reply.put([(mac, acted)])


class StationLoop:
    """One station run: ``run()`` until the engine is done or a stop ends it."""

    def __init__(self, link: Link, core: StationCore, setup: StationSetup, *,
                 on_event: Callable[[BoardEvent], None],
                 on_tick: Callable[[], None] = lambda: None,
                 installed_before: InstalledBeforeLookup | None = None,
                 cache: PayloadCache | None = None,
                 mndp: MndpListener | None = None,
                 sightings: queue.SimpleQueue[Sighting] | None = None,
                 desk: OperatorDesk | None = None) -> None:
        self.link = link
        self.desk = desk  # operators' requests, carried out between turns
        self.core = core
        self.setup = setup
        self.on_tick = on_tick
        self.installed_before = installed_before  # --once: the journal's answer
        self.cache = cache or PayloadCache()
        self.mndp = mndp  # where boards in service are heard (docs/verify.md)
        self.sightings = sightings  # what dnsmasq did for each board ('station')
        self.runner = Runner(link, core, work=self.prepare, on_event=on_event,
                             on_tick=self.tick, source_port=link.peer_port)
        self.stops = 0
        self._next_link_check = 0.0
        self._next_ask = 0.0
        self._awaited_when_asked = 0

    # ------------------------------------------------------------ worker threads

    def prepare(self, request: PrepareRequest) -> Prepared:
        """In a worker thread; never raises (a bug refuses its board, not the station)."""
        try:
            if request.check_history and self.installed_before is not None:  # --once
                row = self.installed_before(request.announcement.software_id,
                                            format_mac(request.mac))
                if row is not None:
                    return InstalledBefore(row)
            chosen = self.setup.for_port(request.port)
            return prepare_or_refuse(chosen.plugin, request, chosen.config.defaults,
                                     self.cache, chosen.releases, chosen.rules)
        except Exception as exc:
            log.exception("preparing %s failed", format_mac(request.mac))
            return Refusal(f"preparing files failed: {type(exc).__name__}: {exc} (a bug: "
                           "please report it with the log)")

    # ------------------------------------------------------------------ the loop

    def tick(self) -> None:
        now = time.monotonic()
        if self.mndp is not None:
            self._listen(now)
        if self.sightings is not None:
            self._take_sightings(now)
        if self.desk is not None:
            self.desk.serve(self.core, now, self.runner.send)
        self.on_tick()
        if now >= self._next_link_check:
            self._next_link_check = now + LINK_CHECK_EVERY
            problem = self.link.problem()
            if problem is not None:
                raise LinkError(problem)

    def _listen(self, now: float) -> None:
        """Boards in service: what they announced goes to the engine (a bounded amount
        per turn). While rebooted boards are awaited, ask for announcements every few
        seconds, and at once when another board joins them (it may have announced itself
        before its reboot was confirmed, and RouterOS repeats only once a minute)."""
        assert self.mndp is not None
        for neighbour in self.mndp.drain():
            self.core.heard(neighbour, now)
        awaited = self.core.awaiting_service()
        if awaited and (now >= self._next_ask or awaited > self._awaited_when_asked):
            self._next_ask = now + ASK_EVERY
            self.mndp.ask()
        self._awaited_when_asked = awaited

    def _take_sightings(self, now: float) -> None:
        assert self.sightings is not None
        for _ in range(SIGHTINGS_PER_TURN):
            try:
                self.core.netboot(self.sightings.get_nowait(), now)
            except queue.Empty:
                return

    # ---------------------------------------------------------------- stopping

    def request_stop(self) -> None:
        """Say at once what a stop means, then let the loop stop at its next turn."""
        self.stops += 1
        running = self.core.installs_running()
        plural = "s" if running != 1 else ""
        waiting = self.core.waiting_for_reboot()
        if self.stops == 1 and waiting:
            log.warning("stopping: %d board%s waiting after the install (--after-install "
                        "wait) rebooted first", waiting, "s" if waiting != 1 else "")
        if self.stops == 1 and running:
            log.warning("stopping: %d install%s finishing, up to %g s; Ctrl-C again to "
                        "abort", running, plural, self.core.settings.grace)
        elif self.stops == 1:
            log.warning("stopping")
        elif running:
            log.warning("aborting: %d install%s interrupted", running, plural)
        self.runner.request_stop()

    def stop_gently(self) -> None:
        """A service that died (dnsmasq) stops the station once; it never turns a stop
        already under way into an abort (systemd may kill dnsmasq with the station)."""
        if self.stops == 0:
            self.request_stop()

    def run(self, stop: StopRelay | None = None) -> StationResult:
        install_stop_handlers(self.request_stop)
        if stop is not None:
            stop.connect(self.stop_gently)
        try:
            self.runner.run()
        finally:
            self.cache.cancel()  # downloads still running give up: their boards were never offered
            self.setup.cancel_downloads()
        if self.mndp is not None and (self.core.service.ignored or self.mndp.garbage):
            log.info("MNDP: %s of other devices ignored, %s", counted(
                self.core.service.ignored, "announcement"), counted(
                self.mndp.garbage, "datagram that was", "datagrams that were") +
                " no announcement")
        return self.core.result
