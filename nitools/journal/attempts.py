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
from dataclasses import dataclass
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
from nitools.netinstall.messages import Announcement

OPEN_OUTCOMES = ("preparing", "installing")
log = logging.getLogger("nitools.journal.attempts")


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



