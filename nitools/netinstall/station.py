"""The flashing loop: one socket, one session per board, in one thread.

Data path: the link hands over frames -> a DSCV from a new board starts the
file preparation in a worker thread (plugin, downloads, package checks) -> only
when everything is ready is the OFFR sent -> each board's ServerSession turns
the board's replies into the next frames -> events go to the reporter.
"""

from __future__ import annotations

import concurrent.futures
import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from nitools.errors import NitoolsError
from nitools.netinstall import messages
from nitools.netinstall.board import DeviceInfo
from nitools.netinstall.frame import Frame, format_mac
from nitools.netinstall.payload import PayloadCache
from nitools.netinstall.prepare import InstallDefaults, InstallPlan, prepare_install
from nitools.netinstall.server import Event, Phase, ServerSession, Timing

_MAX_WAIT = 0.5  # upper bound for one select(), so stop requests are seen
_PREPARING_WAIT = 0.02  # poll worker threads this often while they run
_TICK = 0.1  # progress display refresh interval
_SPIN = 0.0002  # seconds to poll for a reply before sleeping (see _receive_soon)


class Link(Protocol):
    mac: bytes

    def fileno(self) -> int: ...
    def send(self, datagram: bytes) -> None: ...
    def receive_frames(self) -> list[Frame]: ...


@dataclass
class StationOptions:
    one_shot: bool = False
    max_installs: int | None = None  # stop after this many finished boards (demo)
    window: int = 1
    timing: Timing = field(default_factory=Timing)
    retry_after: float = 10.0  # a board that failed is not offered again for this long
    stop_grace: float = 0.0  # on stop: seconds running installs may still take
    allowed_macs: frozenset[bytes] | None = None  # --mac: serve only these
    log_keys: bool = False  # licence keys in the log only when asked for
    once: bool = False  # --once: a board the journal shows installed is left alone
    defaults: InstallDefaults = field(default_factory=InstallDefaults)


@dataclass
class Board:
    """One board the station has seen, from announcement to outcome."""

    info: DeviceInfo
    found_at: float
    plan: InstallPlan | None = None
    session: ServerSession | None = None
    outcome: str = "preparing"  # preparing, installing, done, failed
    reason: str = ""
    finished_at: float | None = None
    upload_started_at: float | None = None
    upload_finished_at: float | None = None
    journal_id: int | None = None
    other_macs: list[bytes] = field(default_factory=list)  # its other ports, not answered

    @property
    def upload_rate(self) -> float | None:
        """File bytes per second between the end of the format and the last file."""
        if self.session is None or self.upload_started_at is None \
                or self.upload_finished_at is None:
            return None
        seconds = self.upload_finished_at - self.upload_started_at
        return self.session.total_bytes / seconds if seconds > 0 else None

    @property
    def mac(self) -> bytes:
        return self.info.mac


class Reporter(Protocol):
    def event(self, board: Board, kind: str, detail: str) -> None: ...
    def tick(self, boards: list[Board]) -> None: ...


class Recorder(Protocol):
    """Where attempts are recorded (the journal)."""

    def found(self, answered_mac: str, macs: list[str], info: dict[str, Any]) -> int: ...
    def offered(self, row_id: int, files: list[dict[str, Any]], config_mode: str) -> None: ...
    def finished(self, row_id: int, outcome: str, reason: str, sent_bytes: int,
                 macs: list[str] | None = None) -> None: ...
    def installed_before(self, software_id: str, mac: str) -> Any: ...


@dataclass
class StationResult:
    installed: list[Board] = field(default_factory=list)
    failed: list[Board] = field(default_factory=list)
    interrupted: list[Board] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0


class Station:
    def __init__(self, link: Link, plugin: Any, options: StationOptions, reporter: Reporter,
                 clock: Callable[[], float] = time.monotonic,
                 journal: Recorder | None = None) -> None:
        self.link = link
        self.plugin = plugin
        self.options = options
        self.reporter = reporter
        self.clock = clock
        self.journal = journal
        self.cache = PayloadCache()
        self._skipped: set[bytes] = set()  # boards --once left alone (logged once)
        self.boards: dict[bytes, Board] = {}  # active boards by the MAC we answer
        self.result = StationResult()
        self._preparing: dict[bytes, concurrent.futures.Future[InstallPlan]] = {}
        self._resting: dict[bytes, float] = {}  # MAC -> time it may be offered again
        self._workers = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="prepare")
        self._stop_at: float | None = None

    # --------------------------------------------------------------- control

    def request_stop(self) -> None:
        """Stop offering; let running installs go on for the grace period. A second
        request stops at once. Signal-safe."""
        if self._stop_at is None:
            self._stop_at = self.clock() + self.options.stop_grace
        else:
            self._stop_at = self.clock()

    def run(self) -> StationResult:
        selector = selectors.DefaultSelector()
        selector.register(self.link.fileno(), selectors.EVENT_READ)
        next_tick = 0.0
        try:
            while not self._should_exit():
                # Read first and wait only when nothing is there: under load the next
                # frame has usually arrived already, and every system call counts.
                frames = self._receive_soon(selector)
                now = self.clock()
                for frame in frames:
                    self._on_frame(frame, now)
                if self._preparing:
                    self._collect_preparations(now)
                self._run_timers(now)
                if now >= next_tick:
                    next_tick = now + _TICK
                    self.reporter.tick(list(self.boards.values()))
        finally:
            selector.close()
            self._interrupt_all()
            self._workers.shutdown(wait=False, cancel_futures=True)
        return self.result

    # ------------------------------------------------------------------ loop

    def _receive_soon(self, selector: selectors.BaseSelector) -> list[Frame]:
        """Frames waiting now; else spin briefly, then sleep until one comes or a timer.

        A board answers a frame within tens of microseconds; going to sleep in the
        kernel and waking up again costs as much, so an active session first polls
        for a short while (bounded, and only while sessions are uploading).
        """
        frames = self.link.receive_frames()
        if frames:
            return frames
        if self._uploading():
            spin_until = self.clock() + _SPIN
            while self.clock() < spin_until:
                frames = self.link.receive_frames()
                if frames:
                    return frames
        selector.select(self._wait_time())
        return self.link.receive_frames()

    def _uploading(self) -> bool:
        return any(b.session is not None and b.session.phase is Phase.UPLOADING
                   for b in self.boards.values())

    def _should_exit(self) -> bool:
        finished = len(self.result.installed) + len(self.result.failed)
        if self.options.one_shot and finished:
            return True
        if self.options.max_installs is not None and finished >= self.options.max_installs:
            return True
        if self._stop_at is not None:
            running = any(b.session and not b.session.finished for b in self.boards.values())
            return not running or self.clock() >= self._stop_at
        return False

    def _wait_time(self) -> float:
        wait = _PREPARING_WAIT if self._preparing else _MAX_WAIT
        deadline = self._next_deadline()
        if deadline is not None:
            wait = min(wait, deadline - self.clock())
        return max(wait, 0.0)

    def _next_deadline(self) -> float | None:
        deadlines = [d for b in self.boards.values()
                     if b.session is not None and (d := b.session.next_deadline()) is not None]
        return min(deadlines) if deadlines else None

    def _on_frame(self, frame: Frame, now: float) -> None:
        board = self.boards.get(frame.src)
        if board is not None and board.session is not None:
            self._send(board.session.receive(frame, now))
            self._after_session_step(board, now)
            if frame.src in self.boards:
                return
            # The session ended on this frame. A board that announced itself again
            # restarted mid-install: it gets a fresh session at once, no resting time.
            self._resting.pop(frame.src, None)
        if frame.seq == 1 and frame.ack == 0 and frame.payload.startswith(messages.DSCV):
            self._on_announcement(frame, now)

    def _on_announcement(self, frame: Frame, now: float) -> None:
        mac = frame.src
        if mac in self.boards or self._stop_at is not None:
            return
        allowed = self.options.allowed_macs
        if allowed is not None and mac not in allowed:
            return
        if self._resting.get(mac, 0.0) > now:
            return
        try:
            announcement = messages.parse_dscv(frame.payload)
        except messages.MessageError:
            return
        info = DeviceInfo.from_announcement(mac, announcement)
        same = next((b for b in self.boards.values() if info.lic_id
                     and b.info.lic_id == info.lic_id), None)
        if same is not None:  # another port of a board we already serve (§3.1)
            if mac not in same.other_macs:
                same.other_macs.append(mac)
            return  # answer one MAC only
        if self.options.once and self._installed_before(info):
            return
        board = Board(info, now)
        self.boards[mac] = board
        if self.journal is not None:
            board.journal_id = self.journal.found(info.mac_text, [info.mac_text],
                                                  info.as_dict())
        self.reporter.event(board, "found", info.describe(self.options.log_keys))
        self._preparing[mac] = self._workers.submit(
            prepare_install, self.plugin, info, self.options.defaults, self.cache)

    def _installed_before(self, info: DeviceInfo) -> bool:
        if self.journal is None:
            return False
        earlier = self.journal.installed_before(info.lic_id, info.mac_text)
        if earlier is None:
            return False
        if info.mac not in self._skipped:
            self._skipped.add(info.mac)
            self.reporter.event(Board(info, self.clock()), "skipped",
                                f"installed before (journal row {earlier['id']}): "
                                "not installing again (--once)")
        return True

    def _collect_preparations(self, now: float) -> None:
        for mac, future in list(self._preparing.items()):
            if not future.done():
                continue
            del self._preparing[mac]
            board = self.boards[mac]
            try:
                board.plan = future.result()
            except NitoolsError as exc:
                self._finish(board, "failed", str(exc), now)
                continue
            except Exception as exc:  # a plugin bug must not stop the station
                self._finish(board, "failed", f"preparing files failed: "
                             f"{type(exc).__name__}: {exc}", now)
                continue
            if self._stop_at is not None:
                self._finish(board, "failed", "station stopping: board not offered", now)
                continue
            self._offer(board, now)

    def _offer(self, board: Board, now: float) -> None:
        assert board.plan is not None
        plan = board.plan
        files = ", ".join(f"{f.name} ({len(f.data)} B)" for f in plan.files)
        self.reporter.event(board, "validated", f"{files}; configuration: {plan.description}")
        for finding in plan.findings:
            self.reporter.event(board, "warning", str(finding))
        if self.journal is not None and board.journal_id is not None:
            self.journal.offered(board.journal_id, plan.journal_files(), plan.description)
        key = plan.key if plan.key is not None else board.info.lic_key
        board.session = ServerSession(
            server_mac=self.link.mac, device_mac=board.mac, files=plan.files, key=key,
            keep=plan.keep, timing=self.options.timing, window=self.options.window)
        board.outcome = "installing"
        self._send(board.session.start(now))
        self._after_session_step(board, now)

    def _run_timers(self, now: float) -> None:
        for board in list(self.boards.values()):
            session = board.session
            if session is None:
                continue
            deadline = session.next_deadline()
            if deadline is not None and deadline <= now:
                self._send(session.poll(now))
                self._after_session_step(board, now)

    def _after_session_step(self, board: Board, now: float) -> None:
        session = board.session
        assert session is not None
        for event in session.take_events():
            if event.kind == "uploading":
                board.upload_started_at = now
            elif event.kind == "installed":
                board.upload_finished_at = now
            self._report(board, event)
        if session.phase is Phase.DONE:
            self._finish(board, "done", "installed", now)
        elif session.phase is Phase.FAILED:
            self._finish(board, "failed", session.failure or "failed", now)

    def _report(self, board: Board, event: Event) -> None:
        if event.kind not in ("done", "failed"):  # those are reported by _finish
            self.reporter.event(board, event.kind, event.detail)

    def _finish(self, board: Board, outcome: str, reason: str, now: float) -> None:
        board.outcome, board.reason, board.finished_at = outcome, reason, now
        self.boards.pop(board.mac, None)
        if outcome == "done":
            self.result.installed.append(board)
        else:
            self.result.failed.append(board)
            self._resting[board.mac] = now + self.options.retry_after
        self._record(board, outcome, reason)
        self.reporter.event(board, outcome, reason)

    def _record(self, board: Board, outcome: str, reason: str) -> None:
        if self.journal is None or board.journal_id is None:
            return
        if outcome == "done":
            recorded = "installed"
        elif outcome == "interrupted":
            recorded = "interrupted"
        else:  # a board never offered an install was left untouched
            recorded = "failed" if board.session is not None else "refused"
        sent = board.session.bytes_acked if board.session is not None else 0
        macs = [format_mac(m) for m in (board.mac, *board.other_macs)]
        self.journal.finished(board.journal_id, recorded, reason, sent, macs)

    def _interrupt_all(self) -> None:
        now = self.clock()
        for board in list(self.boards.values()):
            board.finished_at = now
            if board.session is not None and not board.session.finished:
                board.session.abort("interrupted: the station stopped mid-install")
                board.outcome, board.reason = "failed", board.session.failure or ""
                self.result.interrupted.append(board)
                self._record(board, "interrupted", board.reason)
                self.reporter.event(board, "failed", board.reason)
            elif board.session is None:
                self._record(board, "refused", "station stopped before the offer")
        self.boards.clear()

    def _send(self, datagrams: list[bytes]) -> None:
        for datagram in datagrams:
            self.link.send(datagram)
