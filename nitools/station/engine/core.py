"""The station's pure core: every board's session, discovery, port merging and the
stop grace; which boards are taken on is ``admission.py``'s. Frames (with the port they
came in on), prepared plans, neighbours, dnsmasq sightings and time in; frames, events
and preparation requests out. No sockets, threads, clock or logging (a contract in
pyproject.toml): ``station/run.py`` drives it over ``nitools.wire``, in real or virtual
time.

Data path: a DSCV from a new board -> ``Found`` and a ``PrepareRequest`` (the
runner reads or downloads its files and checks them in a worker thread) ->
``prepared()`` with the plan, and only then the OFFR -> each board's
ServerSession turns the board's replies into the next frames -> ``Finished``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from nitools.bounded import Bounded
from nitools.netboot.dnsmasq_log import Sighting
from nitools.netinstall import events, messages
from nitools.netinstall.congestion import SendBudget
from nitools.netinstall.events import FailureCause, Outcome
from nitools.netinstall.frame import Frame, format_mac
from nitools.netinstall.messages import is_announcement
from nitools.netinstall.mndp import Neighbour
from nitools.netinstall.server import Phase, ServerSession
from nitools.routeros.identity import scripted_identity
from nitools.station.engine.admission import Admission
from nitools.station.engine.board import Board
from nitools.station.engine.boot_watch import BootWatch
from nitools.station.engine.contract import (
    InstalledBefore,
    InstallPlan,
    NotYet,
    Prepared,
    PrepareRequest,
    Refusal,
)
from nitools.station.engine.operator import Acted, Action, Verdict
from nitools.station.engine.service import ServiceCheck
from nitools.station.engine.settings import WAIT, EngineSettings

PROGRESS_INTERVAL = 0.1  # seconds between Progress events of an uploading board
PREPARE_AGAIN = 1.0  # a board whose files were being fetched for another asks again then
MAX_PORTS = 64  # port MACs merged into one board (by software ID) at most
REMEMBERED = 4096  # finished boards remembered for the operator (boards, reinstall)
_NOTHING: list = []  # returned (never changed) when there is nothing to take: no allocation


@dataclass
class StationResult:
    rebooted: int = 0  # installed and reboot confirmed
    failed: int = 0  # offered, and the install did not complete
    refused: int = 0  # never offered: files missing or not fit for the board
    unconfirmed: list[bytes] = field(default_factory=list)  # installed, still asking for TERM
    interrupted: list[bytes] = field(default_factory=list)  # MACs stopped mid-install
    stopped_short: bool = False  # a stop came before -1 / --count had its boards
    ignored_announcements: int = 0  # dropped by the caps and the flood defence
    # After the reboot (docs/verify.md)
    verified: int = 0
    wrong_version: list[bytes] = field(default_factory=list)
    unverified: list[bytes] = field(default_factory=list)  # --verify: not seen in service
    not_seen: int = 0  # without --verify: rebooted, not seen in service in time
    booted: int = 0  # asked for an address after the reboot; no version heard
    silent: int = 0  # got a boot image, never announced itself (not counted in finished)
    never_answered: int = 0  # offered, never answered: strangers (not counted in finished)

    @property
    def finished(self) -> int:
        return self.rebooted + self.failed + self.refused + len(self.unconfirmed)

    @property
    def exit_code(self) -> int:
        if self.interrupted or self.stopped_short:
            return 130  # the work asked for was not done: say so, as a signal would
        return 1 if self.failed or self.refused or self.unconfirmed or self.wrong_version \
            or self.unverified else 0


class StationCore:
    def __init__(self, server_mac: bytes, settings: EngineSettings) -> None:
        self.server_mac = server_mac
        self.own_macs = frozenset({server_mac})
        self.settings = settings
        self.boards: dict[bytes, Board] = {}  # active boards by the MAC we answer
        self.result = StationResult()
        self.admission = Admission(settings)
        self._by_software_id: dict[str, Board] = {}
        self._preparing = 0  # boards whose files are being prepared
        self._events: list[events.BoardEvent] = []
        self._requests: list[PrepareRequest] = []
        self._stop_at: float | None = None
        self._next_progress = 0.0
        self._budget = SendBudget(settings.max_in_flight)
        self.service = ServiceCheck(settings.verify_timeout, settings.verify)
        self.boot_watch = BootWatch(settings.announce_timeout)
        self.finished: Bounded[bytes, str] = Bounded(REMEMBERED)  # MAC -> its last outcome
        self._reinstall: set[bytes] = set()  # asked to install again: --once not asked
        self._release_waiting = False  # a stop reboots the boards waiting after install
        # No session timer is due before this: poll() scans the boards only then. Kept
        # at or below every session's deadline (updated after each step of a session).
        self._next_timer = 0.0

    # ---------------------------------------------------------------- inputs

    def receive(self, frame: Frame, now: float, port: str | None = None) -> list[Frame]:
        """A frame from the wire; ``port``: the interface it came in on, if known."""
        board = self.boards.get(frame.src)
        if board is not None and board.session is not None:
            out = board.session.receive(frame, now)
            self._after_step(board, now)
            if frame.src in self.boards:
                return out
            # The session ended on this frame. A board that announced itself again
            # restarted mid-install: it gets a fresh session at once.
            if is_announcement(frame):
                self._on_announcement(frame, now, port)
            return out
        if is_announcement(frame):
            self._on_announcement(frame, now, port)
        elif messages.is_wtrm(frame):
            return self._release(frame, now, port)
        return []

    def prepared(self, mac: bytes, result: Prepared, now: float) -> list[Frame]:
        """The files for a board are ready (or it must be left alone)."""
        board = self.boards.get(mac)
        if board is None or board.session is not None:
            return []  # the station stopped, or the answer is stale
        if isinstance(result, Refusal):
            self._preparing -= 1
            if result.cause is FailureCause.NOT_IN_INVENTORY:
                # Not a board of this line: recorded once, never counted towards -1 or
                # --count, and not prepared again this run.
                self._finish(board, Outcome.REFUSED, result.reason, now, result.cause,
                             counted=False)
                self.admission.skip(mac, now)
                return []
            self._finish(board, Outcome.REFUSED, result.reason, now, result.cause)
            return []
        if isinstance(result, NotYet):  # waits, announcing, holding no worker
            self._preparing -= 1
            board.prepare_again_at = now + PREPARE_AGAIN
            self._next_timer = min(self._next_timer, board.prepare_again_at)
            return []
        if isinstance(result, InstalledBefore):
            self._preparing -= 1
            self._leave(board)
            self.admission.skip(mac, now)
            self._events.append(events.Skipped(
                now, mac, board.announcement,
                f"installed before (journal row {result.row}): not installing again (--once)"))
            return []
        self._preparing -= 1
        if self._stop_at is not None:
            self._finish(board, Outcome.REFUSED, "station stopping: board not offered", now,
                         FailureCause.STATION_STOPPED)
            return []
        self._checked(board, result, now)
        hold = result.hold if result.hold is not None else self.settings.hold
        if hold and board.approved_by is None:
            board.held_plan = result
            self._events.append(events.Held(now, mac))
            self._hold_timer(board, now)
            return []
        return self._offer(board, result, now)

    def heard(self, neighbour: Neighbour, now: float) -> None:
        """A board announced itself with MNDP (docs/verify.md)."""
        for event in self.service.heard(neighbour, now):
            self._in_service(event)

    def netboot(self, sighting: Sighting, now: float) -> None:
        """What dnsmasq did for a board (``nitools station``): its timeline starts here.
        An ordinary DHCP request counts only from a board awaited after its reboot."""
        if sighting.kind is events.NetbootKind.DHCP_CLIENT:
            board = self.service.asked_for_address(sighting.mac, sighting.detail, sighting.at)
            if board is not None:
                self._events.append(events.Netboot(
                    sighting.at, board, events.NetbootKind.DHCP_AFTER_BOOT, sighting.detail,
                    sighting.port, sighting.address))
            return
        announced = self.admission.announced.get(sighting.mac)
        talking = sighting.mac in self.boards or (announced is not None
                                                  and announced >= sighting.at)
        self._events += self.boot_watch.sighting(sighting, now, talking)

    def awaiting_service(self) -> int:
        """Rebooted boards not yet seen in service (the station asks for them)."""
        return len(self.service)

    def poll(self, now: float) -> list[Frame]:
        """Timers: resends, timeouts, progress. Cheap when nothing is due."""
        out: list[Frame] = []
        due = self.service.next_deadline()
        if due is not None and due <= now:
            for event in self.service.poll(now):
                self._in_service(event)
        due = self.boot_watch.next_deadline()
        if due is not None and due <= now:
            silent = self.boot_watch.poll(now)
            self.result.silent += len(silent)
            self._events += silent
        if now >= self._next_timer:
            next_timer = now + 1.0
            for board in list(self.boards.values()):
                session = board.session
                if session is None and board.held_plan is not None:
                    next_timer = min(next_timer, self._check_held(board, now))
                    continue
                if session is None:
                    again = board.prepare_again_at
                    if again is not None and again <= now:
                        board.prepare_again_at = None
                        self._preparing += 1
                        self._requests.append(PrepareRequest(board.mac, board.announcement,
                                                             board.port))
                    elif again is not None and again < next_timer:
                        next_timer = again
                    continue
                if self._release_waiting and session.phase is Phase.WAITING:
                    out += session.release(now)  # a stop reboots waiting boards first
                    self._after_step(board, now)
                deadline = session.next_deadline()
                if deadline is not None and deadline <= now:
                    out += session.poll(now)
                    self._after_step(board, now)
                    deadline = session.next_deadline()
                if deadline is not None and deadline < next_timer:
                    next_timer = deadline
            self._next_timer = next_timer
        if now >= self._next_progress:
            self._next_progress = now + PROGRESS_INTERVAL
            for board in self.boards.values():
                session = board.session
                if session is not None and session.phase is Phase.UPLOADING:
                    self._events.append(events.Progress(now, board.mac, session.bytes_acked,
                                                        session.total_bytes))
        return out

    def installs_running(self) -> int:
        """Boards offered an install that has not ended (for a stop's notice)."""
        return sum(1 for board in list(self.boards.values())
                   if board.session is not None and not board.session.finished)

    def request_stop(self, now: float) -> None:
        """Stop offering; running installs may go on for the grace period. A second
        request stops at once."""
        self._stop_at = now + self.settings.grace if self._stop_at is None else now
        self._release_waiting = True
        self._next_timer = now

    def close(self, now: float) -> None:
        """The station stops: every install still running is interrupted."""
        goal = self.settings.goal
        if self._stop_at is not None and goal is not None and self.result.finished < goal:
            self.result.stopped_short = True
        for board in list(self.boards.values()):
            session = board.session
            if session is not None and session.phase is Phase.WAITING:
                session.abort("the station stopped while the board waited for its reboot")
                self._finish(board, Outcome.UNCONFIRMED, (
                    "all files acknowledged; it waited for `nitools reboot` when the station "
                    "stopped: power-cycle it"), now, FailureCause.STATION_STOPPED)
            elif board.held_plan is not None:
                self._finish(board, Outcome.SKIPPED, "held for approval until the station "
                             "stopped: never offered", now, FailureCause.STATION_STOPPED,
                             counted=False)
            elif session is not None and session.phase is Phase.REBOOTING:
                self._finish(board, Outcome.UNCONFIRMED, (
                    "all files acknowledged; the station stopped before the board confirmed "
                    "its reboot: check it, power-cycle it if it waits for TERM"), now,
                    FailureCause.STATION_STOPPED)
            elif session is not None and not session.finished and not board.answered:
                # Offered, never answered: nothing was installed or interrupted (a stray
                # or forged announcement must not make a run look interrupted).
                session.abort("the station stopped before the board answered its offer")
                self._finish(board, Outcome.REFUSED, "station stopped before the board "
                             "answered its offer", now, FailureCause.STATION_STOPPED,
                             counted=False)
            elif session is not None and not session.finished:
                session.abort("the station stopped mid-install")
                self._finish(board, Outcome.INTERRUPTED, session.failure or "", now,
                             session.cause)
            elif session is None:
                self._finish(board, Outcome.REFUSED, "station stopped before the offer", now,
                             FailureCause.STATION_STOPPED, counted=False)
        self.boards.clear()
        self._by_software_id.clear()
        self._preparing = 0

    # ---------------------------------------------------------- the operator

    def act(self, action: Action, mac: bytes, by: str, now: float
            ) -> tuple[Acted, list[Frame]]:
        """An operator's action on one board (``by``: who asked), carried out now: the
        answer, and the frames it sends (an offer, a TERM)."""
        board = self._board_of(mac)
        if board is None:
            known = self.finished.get(mac)
            if known is None and self.admission.announced.get(mac) is None:
                return Acted(Verdict.UNKNOWN, "", f"no board {format_mac(mac)} in this "
                             "run"), []
            if action is Action.REINSTALL:
                self.admission.forget(mac)
                self._reinstall.add(mac)
                self._events.append(events.OperatorActed(now, mac, action.value, by))
                return Acted(Verdict.DONE, "reinstall", "installed again when it next "
                             "announces itself"), []
            return Acted(Verdict.CONFLICT, known or "", f"{action.value}: the board is not "
                         f"with the station now ({known or 'seen, not taken on'})"), []
        phase = self._phase_of(board)
        if self._stop_at is not None and action in (Action.APPROVE, Action.REINSTALL):
            return Acted(Verdict.CONFLICT, phase, "the station is stopping"), []
        if action is Action.APPROVE and phase == events.BoardPhase.HELD.value:
            plan, board.held_plan = board.held_plan, None
            assert plan is not None
            self._events.append(events.OperatorActed(now, board.mac, action.value, by))
            out = self._offer(board, plan, now)
            return Acted(Verdict.DONE, self._phase_of(board), "offered"), out
        if action is Action.APPROVE and phase == events.BoardPhase.PREPARING.value:
            board.approved_by = by
            self._events.append(events.OperatorActed(now, board.mac, action.value, by))
            return Acted(Verdict.DONE, phase, "approved: offered once its files are "
                         "ready"), []
        if action is Action.SKIP and board.session is None:
            if self._is_preparing(board):
                self._preparing -= 1  # its files' answer will be stale
            self._events.append(events.OperatorActed(now, board.mac, action.value, by))
            self._finish(board, Outcome.SKIPPED, f"skipped by an operator ({by}): never "
                         "offered in this run", now, FailureCause.OPERATOR, counted=False)
            self.admission.skip(board.mac, now)
            return Acted(Verdict.DONE, Outcome.SKIPPED.value, "never offered in this run"), []
        if action is Action.REBOOT and phase == events.BoardPhase.WAITING.value:
            session = board.session
            assert session is not None
            self._events.append(events.OperatorActed(now, board.mac, action.value, by))
            out = session.release(now)
            self._after_step(board, now)
            return Acted(Verdict.DONE, self._phase_of(board), "TERM sent"), out
        return Acted(Verdict.CONFLICT, phase, f"{action.value} does not fit a board that is "
                     f"{phase}"), []

    def held_macs(self) -> list[bytes]:
        """The boards held for approval now."""
        return [mac for mac, board in self.boards.items() if board.held_plan is not None]

    def waiting_for_reboot(self) -> int:
        """Boards installed and waiting for an operator's reboot."""
        return sum(1 for board in self.boards.values()
                   if board.session is not None and board.session.phase is Phase.WAITING)

    def view(self) -> list[dict[str, object]]:
        """The run's boards for the operator: those being handled, with what they get,
        then those that finished (their last outcome)."""
        rows: list[dict[str, object]] = []
        for board in self.boards.values():
            rows.append({"mac": format_mac(board.mac), "phase": self._phase_of(board),
                         "port": board.port, "model": board.announcement.model,
                         "arch": board.announcement.arch,
                         "software_id": board.announcement.software_id,
                         "plan": board.plan_view})
        for mac, outcome in self.finished.items():
            if mac not in self.boards:
                rows.append({"mac": format_mac(mac), "phase": outcome})
        return rows

    def _board_of(self, mac: bytes) -> Board | None:
        board = self.boards.get(mac)
        if board is None:  # another port of a board being installed
            board = next((b for b in self.boards.values() if mac in b.other_macs), None)
        return board

    def _phase_of(self, board: Board) -> str:
        if board.held_plan is not None:
            return events.BoardPhase.HELD.value
        session = board.session
        if session is None:
            return events.BoardPhase.PREPARING.value
        return session.phase.value  # a running session's phases are BoardPhase's words

    @staticmethod
    def _is_preparing(board: Board) -> bool:
        """Its files are being prepared in a worker now (counted in ``_preparing``)."""
        return board.session is None and board.held_plan is None \
            and board.prepare_again_at is None

    def _hold_timer(self, board: Board, now: float) -> None:
        self._next_timer = min(self._next_timer, now + self.settings.announce_timeout)

    def _check_held(self, board: Board, now: float) -> float:
        """A held board stays while it announces itself; one silent for the announce
        timeout is gone (power-cycled, unplugged). Returns when to look again."""
        heard = self.admission.announced.get(board.mac, board.found_at)
        if now - heard < self.settings.announce_timeout:
            return heard + self.settings.announce_timeout
        self._finish(board, Outcome.SKIPPED, (
            f"held for approval, it stopped announcing itself for "
            f"{self.settings.announce_timeout:g} s: dropped (approve it next time it "
            "net-boots)"), now, FailureCause.LEFT_WHILE_HELD, counted=False)
        return now + 1.0

    # --------------------------------------------------------------- outputs

    def take_events(self) -> list[events.BoardEvent]:
        if not self._events:
            return _NOTHING
        taken, self._events = self._events, []
        return taken

    def take_requests(self) -> list[PrepareRequest]:
        if not self._requests:
            return _NOTHING
        taken, self._requests = self._requests, []
        return taken

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self.service.next_deadline(), self.boot_watch.next_deadline(),
                                 self._next_timer if self.boards else None) if d is not None]
        return min(deadlines) if deadlines else None

    def busy(self) -> bool:
        """A transfer is running: answers come within microseconds."""
        return any(b.session is not None and b.session.phase is Phase.UPLOADING
                   for b in self.boards.values())

    def done(self, now: float) -> bool:
        finished = self.result.finished
        waiting = self.settings.verify and len(self.service) > 0  # -1/--count wait for it
        goal = self.settings.goal
        if goal is not None and finished >= goal and not waiting:
            return True
        if self._stop_at is not None:
            running = any(b.session and not b.session.finished for b in self.boards.values())
            return not running or now >= self._stop_at
        return False

    # --------------------------------------------------------------- helpers

    def _on_announcement(self, frame: Frame, now: float, port: str | None) -> None:
        mac = frame.src
        admission = self.admission
        admission.heard(mac, now)
        self.boot_watch.announced(mac)  # it booted its image and talks: not silent
        if mac in self.boards or self._stop_at is not None or admission.keeps_out(mac, now):
            if admission.not_pinned(mac) and admission.tell_once(mac, now):
                self._events.append(events.NotServed(
                    now, mac, "ignored: not a --mac board (--mac names "
                    f"{', '.join(format_mac(m) for m in sorted(self.settings.macs or ()))})"))
            return
        try:
            announcement = messages.parse_dscv(frame.payload)
        except messages.MessageError:
            return
        software_id = announcement.software_id
        same = self._by_software_id.get(software_id) if software_id else None
        if same is not None:  # another port of a board that took our offer (protocol §3.1)
            if mac not in same.other_macs and len(same.other_macs) < MAX_PORTS:
                same.other_macs.append(mac)
            return  # answer one MAC only
        if admission.resting_id(software_id, now):
            return
        if not admission.admit(mac, now, self._preparing):
            self.result.ignored_announcements += 1
            return
        board = Board(mac, announcement, now, port)
        self.boards[mac] = board
        self._preparing += 1
        self._events.append(events.Found(now, mac, announcement, port))
        again = mac in self._reinstall  # an operator asked: the journal is not asked
        self._reinstall.discard(mac)
        self._requests.append(PrepareRequest(mac, announcement, port,
                                             check_history=self.settings.once and not again))

    def _release(self, wtrm: Frame, now: float, port: str | None) -> list[Frame]:
        """A board waits for TERM without a session here: answer it."""
        answer, first = self.admission.release(wtrm, now)
        if first:
            self._events.append(events.Released(now, wtrm.src, port))
        return answer

    def _checked(self, board: Board, plan: InstallPlan, now: float) -> None:
        """Its files are read and checked: what it gets is known (and journaled)."""
        board.version_sent = plan.version
        board.identity_set = scripted_identity(plan.script)
        script = plan.script
        board.plan_view = {
            "packages": [package.name for package in plan.packages],
            "version": plan.version, "identity": board.identity_set,
            "configuration": plan.description,
            "script_sha256": hashlib.sha256(script).hexdigest() if script is not None
            else None}
        self._events.append(events.Validated(now, board.mac, plan.sent_files(),
                                             plan.description, plan.inventory_key,
                                             plan.template, plan.script))
        for finding in plan.findings:
            self._events.append(events.Warned(now, board.mac, str(finding)))

    def _offer(self, board: Board, plan: InstallPlan, now: float) -> list[Frame]:
        wait = (plan.after_install or self.settings.after_install) == WAIT
        key = plan.key if plan.key is not None else board.announcement.key
        try:
            board.session = ServerSession(
                self.server_mac, board.mac, plan.files, key=key, keep=plan.keep,
                timing=self.settings.timing, window=self.settings.window, budget=self._budget,
                software_id=board.announcement.software_id, hold_term=wait)
        except (messages.MessageError, ValueError) as exc:  # e.g. a forged key field
            self._finish(board, Outcome.REFUSED, f"cannot offer an install: {exc}", now,
                         FailureCause.NOT_OFFERED)
            return []
        out = board.session.start(now)
        self._after_step(board, now)
        return out

    def _after_step(self, board: Board, now: float) -> None:
        session = board.session
        assert session is not None
        if session.has_events:
            self._events += session.take_events()
        deadline = session.next_deadline()
        if deadline is not None and deadline < self._next_timer:
            self._next_timer = deadline
        if not board.answered and session.acked >= 1:  # it took the offer
            self._claim(board, now)
        phase = session.phase
        if phase is Phase.UPLOADING:
            return  # nearly every frame: nothing ends while the files go
        if phase is Phase.DONE:
            self._finish(board, Outcome.REBOOTED, session.end_detail, now)
        elif phase is Phase.UNCONFIRMED:
            self._finish(board, Outcome.UNCONFIRMED, session.end_detail, now, session.cause)
        elif phase is Phase.FAILED:
            # A board that restarted is offered again at once: its attempt does not count
            # towards -1 or --count, and it needs no rest. One that never answered the offer
            # (a stray or forged announcement, or a board another server took) is rested
            # but counts only when --mac names it: a stranger must not end a run.
            never_answered = session.cause is FailureCause.OFFER_IGNORED and not self._pinned(
                board.mac)
            self._finish(board, Outcome.FAILED, session.failure or "failed", now, session.cause,
                         counted=not (session.board_restarted or never_answered),
                         rest=never_answered)

    def _claim(self, board: Board, now: float) -> None:
        """A board took our offer: it owns its software ID from now on, and other ports
        with that ID still waiting for files or for an answer are its own ports (the
        board answers on one port only, docs/protocol.md §3.3): merged, told apart as
        skipped, never journaled as failures."""
        board.answered = True
        software_id = board.announcement.software_id
        if not software_id or software_id in self._by_software_id:
            return
        self._by_software_id[software_id] = board
        for other in [b for b in self.boards.values() if b is not board and not b.answered
                      and b.announcement.software_id == software_id]:
            if self._is_preparing(other):
                self._preparing -= 1  # its files' answer will be stale
            self.boards.pop(other.mac, None)
            if len(board.other_macs) < MAX_PORTS:
                board.other_macs.append(other.mac)
            self._events.append(events.Skipped(
                now, other.mac, other.announcement,
                f"another port of the board answering on {format_mac(board.mac)} (same "
                "software ID): that port installs"))

    def _leave(self, board: Board) -> None:
        """The station is done with this board (for now)."""
        self.boards.pop(board.mac, None)
        software_id = board.announcement.software_id
        if software_id and self._by_software_id.get(software_id) is board:
            del self._by_software_id[software_id]

    def _pinned(self, mac: bytes) -> bool:
        """``--mac`` names this board: the operator expects it, whatever it does."""
        return self.settings.macs is not None and mac in self.settings.macs

    def _finish(self, board: Board, outcome: Outcome, reason: str, now: float,
                cause: FailureCause | None = None, counted: bool = True,
                rest: bool = False) -> None:
        """``counted``: a refusal or failure counts towards -1/--count and the run's exit
        code, and rests the board; ``rest``: rest it even so."""
        self._leave(board)
        self.finished.put(board.mac, outcome.value)
        if outcome.installed:
            self.admission.installed(board.mac, now)
        if outcome is Outcome.REBOOTED:
            self.result.rebooted += 1
            if self.settings.mndp and board.version_sent:
                term = board.session.term_first_at if board.session is not None else None
                self.service.expect(board.mac, board.macs, board.announcement.software_id,
                                    board.version_sent, board.identity_set, now,
                                    rebooted_at=term if term is not None else now)
        elif outcome is Outcome.UNCONFIRMED:
            self.result.unconfirmed.append(board.mac)
        elif outcome is Outcome.INTERRUPTED:
            self.result.interrupted.append(board.mac)
        else:  # refused or failed
            if counted and outcome is Outcome.REFUSED:
                self.result.refused += 1
            elif counted:
                self.result.failed += 1
            elif cause is FailureCause.OFFER_IGNORED:
                self.result.never_answered += 1
            if counted or rest:  # by software ID only a board that answered: IDs are forgeable
                self.admission.rest(board.mac, board.announcement.software_id
                                    if board.answered else "", now)
        session = board.session
        self._events.append(events.Finished(
            now, board.mac, outcome, reason, cause,
            bytes_acked=session.bytes_acked if session else 0,
            total_bytes=session.total_bytes if session else 0,
            retransmissions=session.retransmissions if session else 0,
            resent_on_timer=session.resent_on_timer if session else 0,
            seconds=now - board.found_at,
            upload_rate=session.upload_rate if session else None,
            macs=board.macs))


    def _in_service(self, event: events.InService) -> None:
        if event.outcome is not Outcome.REBOOTED:
            self.finished.put(event.mac, event.outcome.value)
        if event.outcome is Outcome.VERIFIED:
            self.result.verified += 1
        elif event.outcome is Outcome.WRONG_VERSION:
            self.result.wrong_version.append(event.mac)
        elif event.outcome is Outcome.UNVERIFIED:
            self.result.unverified.append(event.mac)
        elif event.outcome is Outcome.BOOTED:
            self.result.booted += 1
        else:
            self.result.not_seen += 1
        self._events.append(event)
