"""The journal writer: turns a station's events into journal rows.

A row is written when a board accepts an install (open until it ends) or, for a board
refused or never answering the offer, once, closed. A failed write never stops installs: what
could not be written is kept and written when the journal works again, or spooled at
the close (``spool.py``) and written at the next start.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from nitools.bounded import Bounded, RateBudget
from nitools.journal.attempts import MAX_SCRIPT_KEPT, AttemptRow, Journal
from nitools.journal.spool import write_spool
from nitools.journal.stores import JournalError
from nitools.journal.tally import NOT_SEEN, RunTally
from nitools.journal.timeline import add_step
from nitools.netinstall import events
from nitools.netinstall.frame import format_mac
from nitools.netinstall.messages import Announcement

log = logging.getLogger("nitools.journal")


RELEASED_REASON = "board waiting for reboot answered: it had all its files from an earlier run"
AFTER_REBOOTED = ("a board journaled rebooted in row {row} (or a frame forged in its name) "
                  "asked for TERM again, and was answered")


@dataclass(eq=False)
class _Record:
    """One attempt as the writer keeps it until every part of it is written."""

    mac: bytes
    announcement: Announcement
    found_at: float  # wall clock (as every time here: the event's own, see JournalWriter.wall)
    offered_at: float | None = None  # once its files were checked
    files: list[dict[str, Any]] | None = None
    configuration: str = ""
    configured: dict[str, str | None] = field(default_factory=dict)  # inventory, template
    timeline: list[dict[str, Any]] = field(default_factory=list)  # {"event", "at"} steps
    end: events.Finished | None = None
    ended_at: float | None = None  # when it ended
    port: str | None = None  # the interface it announced on (several-port stations)
    row: int | None = None  # its journal row, once the start is written
    done: bool = False
    kept: bool = False  # waiting in the writer's queue for the journal to work again


def configured_columns(event: events.Validated) -> dict[str, str | None]:
    """What made this board's configuration: its inventory row, template and script."""
    script = event.script
    text = None
    if script is not None and len(script) <= MAX_SCRIPT_KEPT:
        text = script.decode("utf-8", "replace")
    return {"inventory_key": event.inventory_key, "template": event.template,
            "script_sha256": hashlib.sha256(script).hexdigest() if script is not None
            else None, "script": text}


REMEMBERED = 4096  # boards remembered for what comes after their row (timelines, WTRMs)


class JournalWriter:
    """Keeps the journal from a station's events. A row is written when a board accepts
    the offer of an install (open until it ends), or once, closed, for a board refused
    or never answering. A failed write never stops installs: the record is kept in memory, the
    failure logged once, and everything kept is written when the journal works again.
    Rows of boards that never answered the station (refused, released, offers ignored)
    are journaled at a bounded rate and counted past it, so forged frames cannot fill
    the disk or hold the writer. A finished row is never changed by a later frame."""

    REFUSALS_PER_SECOND = 5.0
    REFUSAL_BURST = 50.0
    MAX_KEPT = 100_000  # records kept while the journal fails (then the oldest go)

    def __init__(self, journal: Journal, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.clock = clock  # the station's clock: the one the events' times are read on
        self.wall_clock = wall_clock  # what rows hold: seconds since the epoch
        self.spool: Path | None = None  # where close() keeps rows it could not write
        self._open: dict[bytes, _Record] = {}  # MAC -> its attempt in progress
        self._unwritten: deque[_Record] = deque()
        self._failing_since: float | None = None
        self._retry_at = 0.0
        # Rows of boards that never answered us share one budget; silent boards (what
        # dnsmasq's log says, which strangers can write into) have their own.
        self._quiet = RateBudget(self.REFUSALS_PER_SECOND, self.REFUSAL_BURST)
        self._silent_rows = RateBudget(self.REFUSALS_PER_SECOND, self.REFUSAL_BURST)
        self.silent_not_journaled = 0
        self.refusals_not_journaled = 0  # refused or never answering an offer
        self.releases_not_journaled = 0
        self.records_lost = 0
        self.tally = RunTally()  # the rows this run wrote: the closing summary
        self.on_failure: Callable[[], None] | None = None  # e.g. a metrics counter
        # Rows this run journaled 'rebooted', by MAC: a later WTRM in such a board's name
        # is journaled with a reason that says so (the rebooted row stays as written).
        self._rebooted: Bounded[bytes, int] = Bounded(REMEMBERED)
        self._rebooted_steps: dict[int, list[dict[str, Any]]] = {}  # row -> its timeline
        # What dnsmasq did for each MAC before it announced itself (timelines' start).
        self._early: Bounded[bytes, list[dict[str, Any]]] = Bounded(REMEMBERED)
        self._offset = 0.0  # wall clock minus the station's clock, read once a second
        self._offset_until = float("-inf")

    def wall(self, at: float) -> float:
        """The wall-clock time of an event that happened at ``at`` on the station's clock:
        every time a row holds comes from its event, never from when the row is written
        (a row kept through a journal outage keeps its real times)."""
        now = self.clock()
        if now >= self._offset_until:
            # One offset between the clocks per second: events of one instant get one
            # time, so their steps keep the order they happened in (two readings of
            # two clocks would differ by microseconds, either way)
            self._offset = self.wall_clock() - now
            self._offset_until = now + 1.0
        return self._offset + at

    def __call__(self, event: events.BoardEvent) -> None:
        match event:
            case events.Netboot():
                self._netboot(event)
            case events.Silent():
                self._silent(event)
            case events.Found():
                self._found(event)
            case events.Validated():
                self._validated(event)
            case events.Accepted():
                self._accepted(event)
            case events.Skipped():
                self._open.pop(event.mac, None)  # --once left it alone: nothing to journal
            case events.Released():
                self._released(event)
            case events.InService():
                self._in_service(event)
            case events.OperatorActed():
                self._operator(event)
            case events.Finished():
                self._finished(event)
            case _ if type(event) in events.STEP_AFTER and event.mac in self._open:
                add_step(self._open[event.mac].timeline, events.STEP_AFTER[type(event)],
                         self.wall(event.at))
        self.flush()

    # ------------------------------------------------------------- one per event

    def _netboot(self, event: events.Netboot) -> None:
        if event.kind is events.NetbootKind.DHCP_AFTER_BOOT:
            row = self._rebooted.get(event.mac)  # a step of its rebooted row, written with
            if row is not None and row in self._rebooted_steps:  # what it did in service
                add_step(self._rebooted_steps[row], event.kind.value, self.wall(event.at),
                         detail=event.detail)
            return
        # The step keeps what dnsmasq said: the vendor class and address, the boot file
        add_step(self._steps_of(event.mac), event.kind.value, self.wall(event.at),
                 detail=event.detail)

    def _operator(self, event: events.OperatorActed) -> None:
        """An operator's action, with who asked: a step of the board's open row, or the
        first step of its next one (a reinstall asked for after its row was closed)."""
        add_step(self._steps_of(event.mac), event.action, self.wall(event.at), event.by)

    def _steps_of(self, mac: bytes) -> list[dict[str, Any]]:
        """The timeline a step of this board goes to: its open row's, else the one its
        next row starts with (dnsmasq's log may also come after it announced itself)."""
        record = self._open.get(mac)
        if record is not None:
            return record.timeline
        steps = self._early.get(mac)
        if steps is None:
            steps = []
        self._early.put(mac, steps)
        return steps

    def _silent(self, event: events.Silent) -> None:
        """A board that got its boot image and never talked netinstall: one closed row."""
        steps = self._early.pop(event.mac, [])
        add_step(steps, events.Outcome.SILENT.value, self.wall(event.at))
        if not self._silent_rows.take(self.clock()):
            self.silent_not_journaled += 1
            return
        text, ended = format_mac(event.mac), self.wall(event.at)
        started = steps[0]["at"]
        row = AttemptRow(started, text, [text], outcome=events.Outcome.SILENT.value,
                         reason=event.reason, cause=event.cause.value, ended_at=ended,
                         bytes=0, duration=ended - started, port=event.port, timeline=steps)
        if self._guard(lambda: self.journal.insert(row)):
            self.tally.row(row.outcome, row.cause, text)

    def _found(self, event: events.Found) -> None:
        steps = self._early.pop(event.mac, [])
        add_step(steps, "found", self.wall(event.at))
        self._open[event.mac] = _Record(event.mac, event.announcement, self.wall(event.at),
                                        port=event.port, timeline=steps)

    def _validated(self, event: events.Validated) -> None:
        record = self._open.get(event.mac)
        if record is not None:
            record.files = [asdict(f) for f in event.files]
            record.configuration = event.configuration
            record.configured = configured_columns(event)
            record.offered_at = self.wall(event.at)

    def _accepted(self, event: events.Accepted) -> None:
        """The board took the offer: from now on it is being installed, and its open row
        says so. (Offers nobody answers write no row until they end: forged
        announcements must not cost two fsyncs each.)"""
        record = self._open.get(event.mac)
        if record is not None and record.files is not None:
            self._write(record)

    def _released(self, event: events.Released) -> None:
        if not self._quiet.take(self.clock()):
            self.releases_not_journaled += 1
            return
        rebooted = self._rebooted.get(event.mac)
        reason = RELEASED_REASON if rebooted is None else AFTER_REBOOTED.format(row=rebooted)
        at, text = self.wall(event.at), format_mac(event.mac)
        row = AttemptRow(at, text, [text], outcome=events.Outcome.RELEASED.value,
                         reason=reason, ended_at=at, bytes=0, duration=0.0, port=event.port)
        if self._guard(lambda: self.journal.insert(row)):
            self.tally.row(row.outcome, None, text)

    def _in_service(self, event: events.InService) -> None:
        row = self._rebooted.get(event.mac)
        if row is None:
            return
        details = {"version": event.version, "identity": event.identity,
                   "board": event.board, "uptime": event.uptime,
                   "seconds": round(event.seconds, 3)} if event.seconds is not None else None
        steps = self._rebooted_steps.pop(row, [])
        seen = event.outcome.value if event.outcome is not events.Outcome.REBOOTED \
            else NOT_SEEN
        add_step(steps, seen, self.wall(event.at))
        ended = self.wall(event.at)  # the attempt ends with its verdict
        if self._guard(lambda: self.journal.in_service(row, event.outcome.value, event.reason,
                                                       details, steps, ended)):
            self.tally.service(seen, format_mac(event.mac))

    def _finished(self, event: events.Finished) -> None:
        record = self._open.pop(event.mac, None)
        if record is None:
            return
        record.end, record.ended_at = event, self.wall(event.at)
        add_step(record.timeline, event.outcome.value, self.wall(event.at))
        never_answered = record.files is None or \
            event.cause is events.FailureCause.OFFER_IGNORED
        if never_answered and not self._quiet.take(self.clock()):
            self.refusals_not_journaled += 1
            return
        self._write(record)

    # ------------------------------------------------------------------ writing

    def flush(self, force: bool = False) -> None:
        """Write what earlier failures left in memory (at most once a second)."""
        if not self._unwritten or (self.clock() < self._retry_at and not force):
            return
        while self._unwritten:
            record = self._unwritten[0]
            if not self._write(record, retrying=True):
                return
            self._unwritten.popleft()
            record.kept = False
        if self._failing_since is not None:
            log.warning("journal %s works again: every kept row is written", self.journal.path)
            self._failing_since = None

    def close(self) -> None:
        """The last chance: what still cannot be written goes to the spool (written at
        the next start), else to the log, never nowhere."""
        self.flush(force=True)
        if self._unwritten and self.spool is not None:
            try:
                write_spool(self.spool, [self._spooled(r) for r in self._unwritten])
            except OSError as exc:
                log.error("journal: cannot keep the unwritten rows in %s: %s", self.spool,
                          exc.strerror)
            else:
                log.warning("journal: %d attempts could not be written; kept in %s and "
                            "written at the next start", len(self._unwritten), self.spool)
                self._unwritten.clear()
        for record in self._unwritten:
            end = record.end
            log.error("journal: not written: %s %s %s: %s", format_mac(record.mac),
                      record.announcement.software_id or "-",
                      end.outcome.value if end else "installing", end.reason if end else "")
        if self.records_lost:
            log.error("journal: %d attempts were dropped from memory while the journal "
                      "failed", self.records_lost)

    def _row(self, record: _Record) -> AttemptRow:
        """The row of an attempt as far as it is known: open (``installing``) until it
        has an end; one whose end never came is interrupted by the station's stop."""
        mac = format_mac(record.mac)
        started = record.offered_at or record.found_at
        row = AttemptRow.of_board(
            started, mac, record.announcement, id=record.row, files=record.files,
            config_mode=record.configuration or None, port=record.port,
            station=self.journal.station or None, timeline=list(record.timeline),
            **record.configured)
        end = record.end
        if end is not None:
            ended = record.ended_at if record.ended_at is not None else self.wall_clock()
            return replace(row, macs=[format_mac(m) for m in end.macs] or [mac],
                           outcome=end.outcome.value, reason=end.reason, cause=_cause(end),
                           ended_at=ended, bytes=end.bytes_acked, duration=ended - started)
        return row

    def _spooled(self, record: _Record) -> AttemptRow:
        """The whole attempt as far as it is known, for the spool (``id``: its row, when
        the start was written and only the end is missing)."""
        row = self._row(record)
        if record.end is not None:
            return row
        now = self.wall_clock()  # the stop, which is now: it ended the attempt
        return replace(row, outcome=events.Outcome.INTERRUPTED.value,
                       reason="the station stopped before this attempt ended",
                       cause=events.FailureCause.STATION_STOPPED.value, ended_at=now,
                       bytes=0, duration=now - row.started_at)

    def installed_before(self, software_id: str, mac: str) -> int | None:
        """For ``--once``: the row of this board's last successful install."""
        try:
            earlier = self.journal.installed_before(software_id, mac)
        except (JournalError, sqlite3.Error) as exc:
            log.warning("journal: cannot tell whether %s was installed before (%s): "
                        "treated as new", mac, exc)
            return None
        return None if earlier is None or earlier.id is None else int(earlier.id)

    def _write(self, record: _Record, retrying: bool = False) -> bool:
        """Write what is not yet written of ``record``; False (and kept) if it failed."""
        def write() -> None:
            if record.done:
                return
            if record.row is None and record.files is not None:
                record.row = self.journal.insert(self._row(replace(record, end=None)))
            end = record.end
            if end is None:
                return
            row = self._row(record)
            if record.row is None:  # never offered, or never accepted: one closed row
                self.journal.insert(row)
            else:
                self.journal.finish(record.row, row.outcome, row.reason or "", row.cause,
                                    end.bytes_acked, row.macs, ended_at=row.ended_at,
                                    timeline=row.timeline)
                if end.outcome is events.Outcome.REBOOTED:
                    self._remember_rebooted(record.mac, record.row, record.timeline)
            record.done = True
            self.tally.row(row.outcome, row.cause, row.answered_mac)

        if self._guard(write):
            return True
        if not retrying and not record.kept:
            record.kept = True  # once in the queue; flush writes whatever it lacks
            self._unwritten.append(record)
            if len(self._unwritten) > self.MAX_KEPT:
                self._unwritten.popleft()
                self.records_lost += 1
        return False

    def _guard(self, write: Callable[[], Any]) -> bool:
        try:
            write()
            return True
        except JournalError as exc:
            now = self.clock()
            if self.on_failure is not None:
                self.on_failure()
            if self._failing_since is None:
                self._failing_since = now
                log.error("%s: installs go on; rows are kept in memory and written when the "
                          "journal works again", exc)
            self._retry_at = now + 1.0
            return False

    def _remember_rebooted(self, mac: bytes, row: int,
                           timeline: list[dict[str, Any]]) -> None:
        self._rebooted_steps[row] = list(timeline)
        for _mac, oldest in self._rebooted.put(mac, row):
            self._rebooted_steps.pop(oldest, None)


def _cause(end: events.Finished) -> str | None:
    return end.cause.value if end.cause is not None else None
