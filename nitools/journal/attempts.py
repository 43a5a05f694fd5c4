"""The station's record of every attempt: one row per board per attempt.

``AttemptRow`` is the one declaration of the journal's columns: the stores (SQLite,
PostgreSQL), the spool and ``history`` read and write rows through it. A row is written
when a board is offered an install (open: ``installing``) and closed with the outcome,
or, for a board never offered, written once, closed. Every write is its own transaction
(SQLite: WAL, full sync), so a crash loses at most the write in progress; rows a crashed
station left open are closed as interrupted on its next start.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nitools.errors import UsageError
from nitools.journal.stores import (  # noqa: F401  (re-exported for callers and tests)
    MIGRATIONS,
    SCHEMA_VERSION,
    JournalError,
    open_store,
)
from nitools.netinstall.events import FailureCause
from nitools.netinstall.messages import Announcement

OPEN_OUTCOMES = ("preparing", "installing")
MAX_SCRIPT_KEPT = 256 * 1024  # a longer first-boot script is kept as its SHA-256 only


def state_dir() -> Path:
    """Where nitools keeps its state: ``$XDG_STATE_HOME/nitools``."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return Path(state) / "nitools"


def default_path() -> Path:
    return state_dir() / "journal.sqlite3"


@dataclass
class AttemptRow:
    """One attempt of one board: the journal's columns, in their order."""

    started_at: float  # wall clock: the offer, or the announcement of a board never offered
    answered_mac: str  # the port MAC the station answered
    macs: list[str] = field(default_factory=list)  # every port MAC the board announced with
    software_id: str | None = None
    model: str | None = None
    arch: str | None = None
    min_version: str | None = None
    image_version: str | None = None
    files: list[dict[str, Any]] | None = None  # what was offered: name, size, sha256, source
    config_mode: str | None = None
    outcome: str = "installing"  # an Outcome value, or "installing" while open
    reason: str | None = None
    cause: str | None = None  # a FailureCause value: why it did not end rebooted
    ended_at: float | None = None
    bytes: int | None = None  # file bytes the board acknowledged
    duration: float | None = None
    station: str | None = None
    port: str | None = None  # the interface it announced on
    inventory_key: str | None = None  # its inventory row: "mac=...", "model=...", "*"
    template: str | None = None  # the template its first-boot script was made from
    script_sha256: str | None = None  # of the first-boot script sent
    script: str | None = None  # that script (``history --script``), up to MAX_SCRIPT_KEPT
    # After the reboot (docs/verify.md): version, identity, board, uptime and seconds from
    # the reboot to its first MNDP announcement, as the board announced them.
    in_service: dict[str, Any] | None = None
    # Its timeline (docs/verify.md): [{"event": "dhcp" | "tftp" | "found" | "offered" |
    # "formatted" | "uploaded" | "rebooted" | "verified" | ..., "at": wall clock}, ...]
    timeline: list[dict[str, Any]] | None = None
    id: int | None = None  # given by the store

    @classmethod
    def of_board(cls, started_at: float, mac: str, announcement: Announcement,
                 **more: Any) -> AttemptRow:
        """A row with what the board announced about itself."""
        more.setdefault("macs", [mac])
        return cls(started_at, mac, software_id=announcement.software_id or None,
                   model=announcement.model, arch=announcement.arch,
                   min_version=announcement.min_version,
                   image_version=announcement.image_version, **more)

    def stored_values(self) -> tuple[Any, ...]:
        """The values of COLUMNS as the stores keep them (lists as text)."""
        values = asdict(self)
        values["macs"] = ",".join(self.macs or [self.answered_mac])
        values["files"] = json.dumps(self.files) if self.files is not None else None
        values["in_service"] = json.dumps(self.in_service) if self.in_service else None
        values["timeline"] = json.dumps(self.timeline) if self.timeline else None
        return tuple(values[name] for name in COLUMNS)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> AttemptRow:
        """A row as a store gives it (older journals lack the newer columns)."""
        values = {name: stored.get(name) for name in (*COLUMNS, "id")}
        values["macs"] = values["macs"].split(",") if values["macs"] else []
        try:
            values["files"] = json.loads(values["files"]) if values["files"] else []
        except ValueError:
            values["files"] = []  # a damaged cell: the rest of the row still counts
        for name in ("in_service", "timeline"):
            try:
                values[name] = json.loads(values[name]) if values[name] else None
            except ValueError:
                values[name] = None  # a damaged cell: the rest of the row still counts
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """Every column, the id first, as stored (the spool keeps rows so)."""
        values = asdict(self)
        return {"id": values.pop("id"), **values}

    def for_output(self) -> dict[str, Any]:
        """For JSON, CSV and the web view: times in ISO 8601 with their UTC offset. The
        script itself is left out (it may hold credentials): ``history --script``."""
        values = self.as_dict()
        values.pop("script")
        for name in ("started_at", "ended_at"):
            values[name] = iso_time(values[name])
        values["timeline"] = [{**step, "at": iso_time(step.get("at"), exact=True)}
                              for step in self.timeline or ()]
        return values


COLUMNS = tuple(f.name for f in fields(AttemptRow) if f.name != "id")
_INSERT = (f"INSERT INTO attempts ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(COLUMNS))})")


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

    def close(self) -> None:
        self.store.close()

    # ---------------------------------------------------------------- writing

    def insert(self, row: AttemptRow) -> int:
        """One whole row (open or closed) in one transaction; returns its id. A row that
        names no station is this journal's station's."""
        if row.station is None and self.station:
            row = replace(row, station=self.station)
        return self.store.write(_INSERT, row.stored_values())[0]

    def finish(self, row_id: int, outcome: str, reason: str, cause: str | None,
               sent_bytes: int, macs: list[str] | None = None,
               ended_at: float | None = None,
               timeline: list[dict[str, Any]] | None = None) -> None:
        """Close an open row; ``macs``: every port MAC the board announced with."""
        now = time.time() if ended_at is None else ended_at
        self.store.write("UPDATE attempts SET ended_at=?, outcome=?, reason=?, cause=?, "
                         "bytes=?, duration=? - started_at, macs=COALESCE(?, macs), "
                         "timeline=COALESCE(?, timeline) WHERE id=?",
                         (now, outcome, reason, cause, sent_bytes, now,
                          ",".join(macs) if macs else None,
                          json.dumps(timeline) if timeline else None, row_id))

    def in_service(self, row_id: int, outcome: str, reason: str,
                   details: dict[str, Any] | None,
                   timeline: list[dict[str, Any]] | None = None,
                   ended_at: float | None = None) -> None:
        """What a rebooted board announced once RouterOS ran (docs/verify.md): the outcome
        becomes verified, wrong-version or unverified; a board not seen while not required
        stays rebooted, its reason saying so. ``ended_at``: the verdict's time, where the
        attempt's record now ends (its duration stays the install's)."""
        steps = json.dumps(timeline) if timeline else None
        if outcome == "rebooted":
            self.store.write("UPDATE attempts SET reason=COALESCE(reason, '') || ?, "
                             "timeline=COALESCE(?, timeline), ended_at=COALESCE(?, ended_at) "
                             "WHERE id=?", (f"; {reason}", steps, ended_at, row_id))
            return
        self.store.write("UPDATE attempts SET outcome=?, reason=?, cause=NULL, in_service=?, "
                         "timeline=COALESCE(?, timeline), ended_at=COALESCE(?, ended_at) "
                         "WHERE id=?",
                         (outcome, reason, json.dumps(details) if details else None, steps,
                          ended_at, row_id))

    def close_stale(self) -> int:
        """Rows this station (or a journal from before station names) left open when it
        crashed become 'interrupted'; other stations' open rows are theirs."""
        return self.store.write(
            "UPDATE attempts SET outcome='interrupted', ended_at=?, reason=?, cause=? "
            f"WHERE outcome IN ({','.join('?' * len(OPEN_OUTCOMES))}) "
            "AND (station=? OR station IS NULL)",
            (time.time(), "the station stopped before this attempt ended",
             FailureCause.STATION_STOPPED.value,
             *OPEN_OUTCOMES, self.station or None))[1]

    def restore(self, row: AttemptRow) -> bool:
        """A spooled attempt (``spool.py``): its end onto the row already written (``id``),
        or the whole attempt as a new row, unless that row is there already (a replay
        cut short after its write: restoring twice writes one row). False: it was."""
        if row.id is None:
            if self._has(row):
                return False
            if row.duration is None and row.ended_at is not None:
                row = replace(row, duration=row.ended_at - row.started_at)
            self.insert(row)
            return True
        self.finish(row.id, row.outcome, row.reason or "", row.cause, row.bytes or 0,
                    row.macs, ended_at=row.ended_at, timeline=row.timeline)
        return True

    # ---------------------------------------------------------------- reading

    def _has(self, row: AttemptRow) -> bool:
        """The same attempt: one station, one board, one start (a wall-clock float)."""
        station = row.station or self.station or None
        same_station = "station IS NULL" if station is None else "station=?"
        values = (row.answered_mac, row.started_at) + (() if station is None else (station,))
        return bool(self.store.read(
            f"SELECT id FROM attempts WHERE answered_mac=? AND started_at=? AND {same_station}",
            values))

    def installed_before(self, software_id: str, mac: str) -> AttemptRow | None:
        """The last successful install of this board: by software ID, else by MAC."""
        if software_id:
            where, values = "software_id=?", (software_id,)
        else:
            where, values = "(answered_mac=? OR ','||macs||',' LIKE ?)", (mac, f"%,{mac},%")
        rows = self.store.read(
            "SELECT * FROM attempts WHERE outcome IN ('installed', 'rebooted', 'unconfirmed', "
            "'verified', 'unverified') "
            f"AND {where} ORDER BY id DESC LIMIT 1", values)
        return AttemptRow.from_stored(rows[0]) if rows else None

    def attempts(self, since: float | None = None, limit: int | None = None, *,
                 mac: str | None = None, software_id: str | None = None,
                 outcome: str | None = None, station: str | None = None
                 ) -> list[AttemptRow]:
        """Rows in the order written, filtered and limited (the last ``limit``) by the
        database itself: a journal of a million rows is never read whole for a page."""
        where: list[str] = []
        values: list[Any] = []
        for column, value in (("started_at >= ?", since), ("software_id = ?", software_id),
                              ("outcome = ?", outcome), ("station = ?", station)):
            if value is not None:
                where.append(column)
                values.append(value)
        if mac is not None:  # the MAC answered, or any port the board announced with
            where.append("(answered_mac = ? OR ',' || macs || ',' LIKE ?)")
            values += [mac, f"%,{mac},%"]
        sql = "SELECT * FROM attempts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit:
            sql += " LIMIT ?"
            values.append(int(limit))
        stored = self.store.read(sql, tuple(values))
        return [AttemptRow.from_stored(row) for row in reversed(stored)]


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


def iso_time(timestamp: float | None, exact: bool = False) -> str | None:
    """``2026-12-03T14:58:31+00:00``, in this machine's time zone (``exact``: with
    milliseconds, for timelines whose steps are a fraction of a second apart)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).astimezone().isoformat(
        timespec="milliseconds" if exact else "seconds")


def format_time(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, timezone.utc).astimezone().strftime(
        "%Y-%m-%d %H:%M:%S")



