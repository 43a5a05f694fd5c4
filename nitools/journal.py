"""The station's record of every attempt: one SQLite row per board per attempt.

A row is written when a board is found, updated when it is offered an install,
and closed with the outcome. Every write is its own transaction in WAL mode with
full sync, so a crash loses at most the write in progress and never corrupts the
file; rows a crashed station left open are closed as interrupted on the next start.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nitools.errors import UsageError
from nitools.journal_spool import write_spool
from nitools.journal_store import (  # noqa: F401  (re-exported for callers and tests)
    MIGRATIONS,
    SCHEMA_VERSION,
    JournalError,
    open_store,
)
from nitools.netinstall import events
from nitools.netinstall.frame import format_mac
from nitools.netinstall.messages import Announcement

OPEN_OUTCOMES = ("preparing", "installing")
log = logging.getLogger("nitools.journal")


def default_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return Path(state) / "nitools" / "journal.sqlite3"


@dataclass
class Attempt:
    row: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.row[key]


class Journal:
    def __init__(self, path: str | os.PathLike[str] | None = None, readonly: bool = False,
                 station: str = "") -> None:
        """``path``: a SQLite file, or a ``postgresql://`` URL shared by many stations.
        ``readonly``: for reading (``history``): nothing is created or changed, and a
        file that is not a journal is said to be one."""
        location = path if path else default_path()
        self.store = open_store(location, readonly)
        self.path = self.store.path  # for messages (a URL without its password)
        self.station = station  # written into every row: host name and interface

    @property
    def db(self) -> sqlite3.Connection:
        """The SQLite connection (SQLite journals only; tests look inside)."""
        return self.store.db  # type: ignore[union-attr]

    def close(self) -> None:
        self.store.close()

    def _write(self, sql: str, values: tuple[Any, ...]) -> int:
        return self.store.write(sql, values)[0]

    # ---------------------------------------------------------------- writing

    def close_stale(self) -> int:
        """Rows this station (or a journal from before station names) left open when it
        crashed become 'interrupted'; other stations' open rows are theirs."""
        return self.store.write(
            "UPDATE attempts SET outcome='interrupted', ended_at=?, reason=? "
            f"WHERE outcome IN ({','.join('?' * len(OPEN_OUTCOMES))}) "
            "AND (station=? OR station IS NULL)",
            (time.time(), "the station stopped before this attempt ended", *OPEN_OUTCOMES,
             self.station or None))[1]

    def found(self, answered_mac: str, macs: list[str], announcement: Announcement) -> int:
        return self._write(
            "INSERT INTO attempts (started_at, answered_mac, macs, software_id, model, arch, "
            "min_version, image_version, outcome, station) "
            "VALUES (?,?,?,?,?,?,?,?,'preparing',?)",
            (time.time(), answered_mac, ",".join(macs), announcement.software_id or None,
             announcement.model, announcement.arch, announcement.min_version,
             announcement.image_version, self.station or None))

    def amend(self, row_id: int, outcome: str, reason: str) -> None:
        """A later fact changes how an attempt ended (a 'rebooted' board asking again)."""
        self._write("UPDATE attempts SET outcome=?, reason=? WHERE id=?",
                    (outcome, reason, row_id))

    def released(self, mac: str, reason: str, port: str | None = None) -> int:
        """A board answered with TERM outside any attempt of this station."""
        now = time.time()
        return self._write(
            "INSERT INTO attempts (started_at, ended_at, answered_mac, macs, outcome, reason, "
            "bytes, duration, station, port) VALUES (?,?,?,?,'released',?,0,0,?,?)",
            (now, now, mac, mac, reason, self.station or None, port))

    def offered(self, row_id: int, files: list[dict[str, Any]], config_mode: str) -> None:
        self._write("UPDATE attempts SET files=?, config_mode=?, outcome='installing' "
                    "WHERE id=?", (json.dumps(files), config_mode, row_id))

    def finished(self, row_id: int, outcome: str, reason: str, sent_bytes: int,
                 macs: list[str] | None = None) -> None:
        """Close the attempt; ``macs``: every port MAC the board announced with."""
        now = time.time()
        self._write("UPDATE attempts SET ended_at=?, outcome=?, reason=?, bytes=?, "
                    "duration=? - started_at, macs=COALESCE(?, macs) WHERE id=?",
                    (now, outcome, reason, sent_bytes, now,
                     ",".join(macs) if macs else None, row_id))

    def restore(self, row: dict[str, Any]) -> None:
        """A spooled attempt (journal_spool.py): its end, onto the row already written,
        or the whole attempt as a new row."""
        macs = ",".join(row["macs"] or [row["answered_mac"]])
        files = json.dumps(row["files"]) if row["files"] is not None else None
        if row["row"] is not None:
            self._write("UPDATE attempts SET ended_at=?, outcome=?, reason=?, bytes=?, "
                        "duration=? - started_at, macs=?, files=COALESCE(files, ?), "
                        "config_mode=COALESCE(config_mode, ?) WHERE id=?",
                        (row["ended_at"], row["outcome"], row["reason"], row["bytes"],
                         row["ended_at"], macs, files, row["config_mode"], row["row"]))
            return
        self._write(
            "INSERT INTO attempts (started_at, ended_at, answered_mac, macs, software_id, "
            "model, arch, min_version, image_version, files, config_mode, outcome, reason, "
            "bytes, duration, station, port) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (row["started_at"], row["ended_at"], row["answered_mac"], macs,
             row["software_id"], row["model"], row["arch"], row["min_version"],
             row["image_version"], files, row["config_mode"], row["outcome"], row["reason"],
             row["bytes"], (row["ended_at"] or row["started_at"]) - row["started_at"],
             row["station"], row["port"]))

    # ---------------------------------------------------------------- reading

    def installed_before(self, software_id: str, mac: str) -> Attempt | None:
        """The last successful install of this board: by software ID, else by MAC."""
        if software_id:
            where, values = "software_id=?", (software_id,)
        else:
            where, values = "(answered_mac=? OR ','||macs||',' LIKE ?)", (mac, f"%,{mac},%")
        rows = self.store.read(
            "SELECT * FROM attempts WHERE outcome IN ('installed', 'rebooted', 'unconfirmed') "
            f"AND {where} ORDER BY id DESC LIMIT 1", values)
        return Attempt(rows[0]) if rows else None

    def attempts(self, since: float | None = None, limit: int | None = None
                 ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM attempts"
        values: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE started_at >= ?"
            values = (since,)
        sql += " ORDER BY id"
        rows = self.store.read(sql, values)
        for row in rows:
            row.setdefault("station", None)  # a journal read before its migrations
            row.setdefault("port", None)
            row["macs"] = row["macs"].split(",") if row["macs"] else []
            try:
                row["files"] = json.loads(row["files"]) if row["files"] else []
            except ValueError:
                row["files"] = []  # a damaged cell: the rest of the row still counts
        return rows[-limit:] if limit else rows

    def started(self, answered_mac: str, macs: list[str], announcement: Announcement,
                files: list[dict[str, Any]], config_mode: str, port: str | None = None
                ) -> int:
        """An install offered to a board: one row, open until ``finished``, written in
        one transaction (a crash never leaves it half-written)."""
        return self._write(
            "INSERT INTO attempts (started_at, answered_mac, macs, software_id, model, arch, "
            "min_version, image_version, files, config_mode, outcome, station, port) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,'installing',?,?)",
            (time.time(), answered_mac, ",".join(macs), announcement.software_id or None,
             announcement.model, announcement.arch, announcement.min_version,
             announcement.image_version, json.dumps(files), config_mode,
             self.station or None, port))

    def closed(self, answered_mac: str, macs: list[str], announcement: Announcement,
               outcome: str, reason: str, started_at: float, port: str | None = None) -> int:
        """An attempt that ended without an offer (refused), in one row."""
        now = time.time()
        return self._write(
            "INSERT INTO attempts (started_at, ended_at, answered_mac, macs, software_id, "
            "model, arch, min_version, image_version, outcome, reason, bytes, duration, "
            "station, port) VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?,?,?)",
            (started_at, now, answered_mac, ",".join(macs), announcement.software_id or None,
             announcement.model, announcement.arch, announcement.min_version,
             announcement.image_version, outcome, reason, now - started_at,
             self.station or None, port))


RELEASED_REASON = "board waiting for reboot answered: it had all its files from an earlier run"
REBOOT_DISPROVED = ("all files acknowledged; the board asked for TERM again after its reboot "
                    "was taken as confirmed: it was answered then (see the released row)")


@dataclass(eq=False)
class _Record:
    """One attempt as the writer keeps it until every part of it is written."""

    mac: bytes
    announcement: Announcement
    found_at: float  # wall clock
    files: list[dict[str, Any]] | None = None
    configuration: str = ""
    end: events.Finished | None = None
    port: str | None = None  # the interface it announced on (several-port stations)
    row: int | None = None  # its journal row, once the start is written
    done: bool = False
    kept: bool = False  # waiting in the writer's queue for the journal to work again


class JournalWriter:
    """Keeps the journal from a station's events. A row is written when a board is
    offered an install (open until it ends) or, for a board never offered, when it is
    refused. A failed write never stops installs: the record is kept in memory, the
    failure logged once, and everything kept is written when the journal works again.
    Refusals are journaled at a bounded rate, so a flood cannot fill the disk."""

    REFUSALS_PER_SECOND = 5.0
    REFUSAL_BURST = 50.0
    MAX_KEPT = 100_000  # records kept while the journal fails (then the oldest go)

    def __init__(self, journal: Journal, clock: Callable[[], float] = time.monotonic,
                 port_of: Callable[[bytes], str | None] | None = None) -> None:
        self.journal = journal
        self.clock = clock
        self.port_of = port_of or (lambda mac: None)  # which interface a board is on
        self.spool: Path | None = None  # where close() keeps rows it could not write
        self._open: dict[bytes, _Record] = {}  # MAC -> its attempt in progress
        self._unwritten: deque[_Record] = deque()
        self._failing_since: float | None = None
        self._retry_at = 0.0
        self._tokens = self.REFUSAL_BURST
        self._tokens_at = 0.0
        self.refusals_not_journaled = 0
        self.records_lost = 0
        self.on_failure: Callable[[], None] | None = None  # e.g. a metrics counter
        # Rows this run journaled 'rebooted', by MAC: a WTRM from such a board later
        # proves the confirmation wrong, and the row is amended.
        self._rebooted: OrderedDict[bytes, int] = OrderedDict()

    def __call__(self, event: events.BoardEvent) -> None:
        if isinstance(event, events.Found):
            self._open[event.mac] = _Record(event.mac, event.announcement, time.time(),
                                            port=self.port_of(event.mac))
        elif isinstance(event, events.Validated):
            record = self._open.get(event.mac)
            if record is not None:
                record.files = [asdict(f) for f in event.files]
                record.configuration = event.configuration
                self._write(record)
        elif isinstance(event, events.Released):
            confirmed = self._rebooted.pop(event.mac, None)
            if confirmed is not None:  # the record said rebooted: it was not true
                self._guard(lambda: self.journal.amend(confirmed, "unconfirmed",
                                                       REBOOT_DISPROVED))
            self._guard(lambda: self.journal.released(format_mac(event.mac), RELEASED_REASON,
                                                      self.port_of(event.mac)))
        elif isinstance(event, events.Finished):
            record = self._open.pop(event.mac, None)
            if record is None:
                return
            record.end = event
            if record.files is None and not self._refusal_allowed():
                self.refusals_not_journaled += 1
                return
            self._write(record)
        self.flush()

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

    def _spooled(self, record: _Record) -> dict[str, Any]:
        end, now = record.end, time.time()
        announcement, mac = record.announcement, format_mac(record.mac)
        return {
            "row": record.row, "started_at": record.found_at, "ended_at": now,
            "answered_mac": mac,
            "macs": [format_mac(m) for m in end.macs] if end and end.macs else [mac],
            "software_id": announcement.software_id or None, "model": announcement.model,
            "arch": announcement.arch, "min_version": announcement.min_version,
            "image_version": announcement.image_version, "files": record.files,
            "config_mode": record.configuration or None,
            "outcome": end.outcome.value if end else "interrupted",
            "reason": end.reason if end else "the station stopped before this attempt ended",
            "bytes": end.bytes_acked if end else 0, "station": self.journal.station or None,
            "port": record.port}

    def installed_before(self, software_id: str, mac: str) -> int | None:
        """For ``--once``: the row of this board's last successful install."""
        try:
            earlier = self.journal.installed_before(software_id, mac)
        except (JournalError, sqlite3.Error) as exc:
            log.warning("journal: cannot tell whether %s was installed before (%s): "
                        "treated as new", mac, exc)
            return None
        return None if earlier is None else int(earlier["id"])

    def _write(self, record: _Record, retrying: bool = False) -> bool:
        """Write what is not yet written of ``record``; False (and kept) if it failed."""
        def write() -> None:
            if record.done:
                return
            mac = format_mac(record.mac)
            if record.row is None and record.files is not None:
                record.row = self.journal.started(mac, [mac], record.announcement,
                                                  record.files, record.configuration,
                                                  record.port)
            end = record.end
            if end is None:
                return
            macs = [format_mac(m) for m in end.macs] or [mac]
            if record.row is None:  # never offered: one closed row
                self.journal.closed(mac, macs, record.announcement, end.outcome.value,
                                    end.reason, record.found_at, record.port)
            else:
                self.journal.finished(record.row, end.outcome.value, end.reason,
                                      end.bytes_acked, macs)
                if end.outcome is events.Outcome.REBOOTED:
                    self._remember_rebooted(record.mac, record.row)
            record.done = True

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

    def _remember_rebooted(self, mac: bytes, row: int) -> None:
        self._rebooted[mac] = row
        self._rebooted.move_to_end(mac)
        if len(self._rebooted) > 4096:
            self._rebooted.popitem(last=False)

    def _refusal_allowed(self) -> bool:
        now = self.clock()
        self._tokens = min(self.REFUSAL_BURST,
                           self._tokens + (now - self._tokens_at) * self.REFUSALS_PER_SECOND)
        self._tokens_at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> float:
    """``2h``, ``3d``, ``30m`` ago, or an ISO date / date-time (local time unless zoned)."""
    now = time.time() if now is None else now
    match = _RELATIVE.fullmatch(text.strip())
    try:
        if match:
            return now - float(int(match[1]) * _UNITS[match[2]])
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.astimezone()
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        raise UsageError(f"--since '{text}' is neither a time like 2h, 3d nor a date like "
                         "2026-11-25 or 2026-11-25T08:00") from None


def format_time(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, timezone.utc).astimezone().strftime(
        "%Y-%m-%d %H:%M:%S")



