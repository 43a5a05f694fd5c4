"""The station's record of every attempt: one SQLite row per board per attempt.

A row is written when a board is found, updated when it is offered an install,
and closed with the outcome. Every write is its own transaction in WAL mode with
full sync, so a crash loses at most the write in progress and never corrupts the
file; rows a crashed station left open are closed as interrupted on the next start.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nitools.errors import NitoolsError, UsageError
from nitools.netinstall import events
from nitools.netinstall.frame import format_mac
from nitools.netinstall.messages import Announcement

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    answered_mac TEXT NOT NULL,
    macs TEXT NOT NULL,
    software_id TEXT,
    model TEXT,
    arch TEXT,
    min_version TEXT,
    image_version TEXT,
    files TEXT,
    config_mode TEXT,
    outcome TEXT NOT NULL,
    reason TEXT,
    bytes INTEGER,
    duration REAL
);
CREATE INDEX IF NOT EXISTS attempts_started ON attempts (started_at);
CREATE INDEX IF NOT EXISTS attempts_software_id ON attempts (software_id);
"""
OPEN_OUTCOMES = ("preparing", "installing")


class JournalError(NitoolsError):
    pass


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
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}: choose another "
                               "with --journal PATH") from exc

    def close(self) -> None:
        self.db.close()

    def _write(self, sql: str, values: tuple[Any, ...]) -> int:
        try:
            with self.db:  # one transaction per write
                cursor = self.db.execute(sql, values)
            return int(cursor.lastrowid or 0)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

    # ---------------------------------------------------------------- writing

    def close_stale(self) -> int:
        """Rows a crashed station left open become 'interrupted'."""
        try:
            with self.db:
                cursor = self.db.execute(
                    "UPDATE attempts SET outcome='interrupted', ended_at=?, reason=? "
                    f"WHERE outcome IN ({','.join('?' * len(OPEN_OUTCOMES))})",
                    (time.time(), "the station stopped before this attempt ended",
                     *OPEN_OUTCOMES))
            return cursor.rowcount
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

    def found(self, answered_mac: str, macs: list[str], announcement: Announcement) -> int:
        return self._write(
            "INSERT INTO attempts (started_at, answered_mac, macs, software_id, model, arch, "
            "min_version, image_version, outcome) VALUES (?,?,?,?,?,?,?,?,'preparing')",
            (time.time(), answered_mac, ",".join(macs), announcement.software_id or None,
             announcement.model, announcement.arch, announcement.min_version,
             announcement.image_version))

    def released(self, mac: str, reason: str) -> int:
        """A board answered with TERM outside any attempt of this station."""
        now = time.time()
        return self._write(
            "INSERT INTO attempts (started_at, ended_at, answered_mac, macs, outcome, reason, "
            "bytes, duration) VALUES (?,?,?,?,'released',?,0,0)", (now, now, mac, mac, reason))

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

    # ---------------------------------------------------------------- reading

    def installed_before(self, software_id: str, mac: str) -> Attempt | None:
        """The last successful install of this board: by software ID, else by MAC."""
        if software_id:
            where, values = "software_id=?", (software_id,)
        else:
            where, values = "(answered_mac=? OR ','||macs||',' LIKE ?)", (mac, f"%,{mac},%")
        row = self.db.execute(
            "SELECT * FROM attempts WHERE outcome IN ('installed', 'rebooted', 'unconfirmed') "
            f"AND {where} ORDER BY id DESC LIMIT 1", values).fetchone()
        return Attempt(dict(row)) if row else None

    def attempts(self, since: float | None = None, limit: int | None = None
                 ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM attempts"
        values: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE started_at >= ?"
            values = (since,)
        sql += " ORDER BY id"
        rows = [dict(r) for r in self.db.execute(sql, values).fetchall()]
        for row in rows:
            row["macs"] = row["macs"].split(",") if row["macs"] else []
            row["files"] = json.loads(row["files"]) if row["files"] else []
        return rows[-limit:] if limit else rows


RELEASED_REASON = "board waiting for reboot answered: it had all its files from an earlier run"


class JournalWriter:
    """Keeps the journal from a station's events: Found opens a row, Validated adds
    the files, Finished closes it with the outcome."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._rows: dict[bytes, int] = {}  # MAC -> the row of its open attempt

    def __call__(self, event: events.BoardEvent) -> None:
        if isinstance(event, events.Found):
            mac = format_mac(event.mac)
            self._rows[event.mac] = self.journal.found(mac, [mac], event.announcement)
        elif isinstance(event, events.Validated):
            row = self._rows.get(event.mac)
            if row is not None:
                self.journal.offered(row, [asdict(f) for f in event.files],
                                     event.configuration)
        elif isinstance(event, events.Released):
            self.journal.released(format_mac(event.mac), RELEASED_REASON)
        elif isinstance(event, events.Finished):
            row = self._rows.pop(event.mac, None)
            if row is not None:
                self.journal.finished(row, event.outcome.value, event.reason,
                                      event.bytes_acked, [format_mac(m) for m in event.macs])

    def installed_before(self, software_id: str, mac: str) -> int | None:
        """For ``--once``: the row of this board's last successful install."""
        earlier = self.journal.installed_before(software_id, mac)
        return None if earlier is None else int(earlier["id"])


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> float:
    """``2h``, ``3d``, ``30m`` ago, or an ISO date / date-time (local time unless zoned)."""
    now = time.time() if now is None else now
    match = _RELATIVE.match(text.strip())
    if match:
        return now - int(match[1]) * _UNITS[match[2]]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--since '{text}' is neither a time like 2h, 3d nor a date like "
                         "2026-11-25 or 2026-11-25T08:00") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def format_time(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, timezone.utc).astimezone().strftime(
        "%Y-%m-%d %H:%M:%S")



