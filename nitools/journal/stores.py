"""Where the journal's rows live: a SQLite file (the default) or a PostgreSQL database
shared by many stations (``postgresql://...``, needs ``nitools[postgresql]``).

Both take the journal's SQL with ``?`` placeholders and give rows as dicts; each write
is one transaction; every failure is a JournalError saying what to do. Schema changes
are versioned (MIGRATIONS) and applied in order to every journal, old ones in place:
SQLite counts them in ``PRAGMA user_version``, PostgreSQL in ``nitools_schema``.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nitools.errors import NitoolsError

log = logging.getLogger("nitools.journal")

COLUMNS_V1 = """
    started_at {real} NOT NULL,
    ended_at {real},
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
    bytes {integer},
    duration {real}
"""
SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    {COLUMNS_V1.format(real="REAL", integer="INTEGER")}
);
CREATE INDEX IF NOT EXISTS attempts_started ON attempts (started_at);
CREATE INDEX IF NOT EXISTS attempts_software_id ON attempts (software_id);
"""
POSTGRES_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS attempts (
        id BIGSERIAL PRIMARY KEY,
        {COLUMNS_V1.format(real="DOUBLE PRECISION", integer="BIGINT")})""",
    "CREATE INDEX IF NOT EXISTS attempts_started ON attempts (started_at)",
    "CREATE INDEX IF NOT EXISTS attempts_software_id ON attempts (software_id)",
    "CREATE TABLE IF NOT EXISTS nitools_schema (version INTEGER NOT NULL)",
)
# Versioned changes after the first schema, applied in order to every journal.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (2, "ALTER TABLE attempts ADD COLUMN station TEXT"),  # which station wrote the row
    (3, "ALTER TABLE attempts ADD COLUMN port TEXT"),  # the interface the board was on
    (4, "ALTER TABLE attempts ADD COLUMN cause TEXT"),  # why it did not end rebooted
    (5, "CREATE INDEX IF NOT EXISTS attempts_station ON attempts (station)"),  # history
    # Per-board configuration (--inventory, --config-template): what each board got.
    (6, "ALTER TABLE attempts ADD COLUMN inventory_key TEXT"),
    (7, "ALTER TABLE attempts ADD COLUMN template TEXT"),
    (8, "ALTER TABLE attempts ADD COLUMN script_sha256 TEXT"),
    (9, "ALTER TABLE attempts ADD COLUMN script TEXT"),
    (10, "ALTER TABLE attempts ADD COLUMN in_service TEXT"),  # what it announced after reboot
    (11, "ALTER TABLE attempts ADD COLUMN timeline TEXT"),  # dhcp, tftp, found, ... verified
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
RETRY_AFTER = 5.0  # a database that failed is not asked again sooner (the loop must not stall)
STATEMENT_MS = 10_000  # a statement the server cannot finish in 10 s (a lock held) fails


class JournalError(NitoolsError):
    pass


def is_postgres(location: str | os.PathLike[str]) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class SqliteStore:
    def __init__(self, path: Path, readonly: bool) -> None:
        self.path = str(path)
        self._lock = threading.Lock()  # the loop writes, the web view reads
        try:
            if readonly:
                self.db = self._reader(path)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=10,
                                      check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SQLITE_SCHEMA)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            if "no such table" in str(exc) or "not a database" in str(exc):
                raise JournalError(f"{path} is not a nitools journal (or it is damaged): "
                                   "give the right file with --journal") from exc
            raise JournalError(f"cannot open the journal {path}: {exc}: choose another "
                               "with --journal PATH") from exc
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal {path}: {exc}: choose another "
                               "with --journal PATH") from exc

    @staticmethod
    def _reader(path: Path) -> sqlite3.Connection:
        """A connection that writes nothing. A journal of another user (the station as
        root) in a folder this user may not write: when its write-ahead log's index is not
        there (the station stopped and checkpointed), SQLite would create it and refuses
        even to read; the main file then holds every row and is read as it is
        (``immutable``). Should a log be left, the newest rows may be missing: said so."""
        uri = path.resolve().as_uri()
        for query in ("mode=ro", "mode=ro&immutable=1"):
            db = sqlite3.connect(f"{uri}?{query}", uri=True, isolation_level=None, timeout=10,
                                 check_same_thread=False)  # the store locks
            db.row_factory = sqlite3.Row
            try:
                db.execute("SELECT id FROM attempts LIMIT 1").fetchall()
            except sqlite3.OperationalError as exc:
                db.close()
                if "readonly" not in str(exc) or "immutable" in query:
                    raise
                continue
            if "immutable" in query and Path(f"{path}-wal").exists():
                log.warning("%s is written by another user (%s) and its write-ahead log is "
                            "not this user's to read: rows the station wrote last may be "
                            "missing; run as the journal's owner (sudo) to see them", path,
                            _owner(path))
            return db
        raise AssertionError("unreachable")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for target, statement in MIGRATIONS:
            if version < target:
                with self.db:
                    self.db.execute(statement)
                    self.db.execute(f"PRAGMA user_version={int(target)}")
                version = target

    def write(self, sql: str, values: tuple[Any, ...]) -> tuple[int, int]:
        """(id of an inserted row, rows changed)."""
        try:
            with self._lock, self.db:  # one transaction per write
                cursor = self.db.execute(sql, values)
            return int(cursor.lastrowid or 0), cursor.rowcount
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

    def read(self, sql: str, values: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        try:
            with self._lock:
                return [dict(r) for r in self.db.execute(sql, values).fetchall()]
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}: it may be "
                               "damaged") from exc

    def close(self) -> None:
        self.db.close()


class PostgresStore:
    """One connection, opened again after a failure (not sooner than RETRY_AFTER)."""

    def __init__(self, url: str, readonly: bool, connect_timeout: float = 3.0) -> None:
        try:
            import psycopg
        except ImportError:
            raise JournalError("a PostgreSQL journal needs psycopg: pip install "
                               "'nitools[postgresql]'") from None
        self.psycopg = psycopg
        self.url = url
        self.path = redact(url)
        self.connect_timeout = connect_timeout
        self.readonly = readonly
        self._conn: Any = None
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._connect(first=True)
        if not readonly:
            self._migrate()

    def _first_line(self, exc: BaseException) -> str:
        """A database error's first line, without any piece of the password: libpq
        splits a URL at its first '@', so a password holding '@' shows up in its
        messages as part of a host name."""
        text = str(exc).strip()
        line = text.splitlines()[0] if text else type(exc).__name__
        password = urlsplit(self.url).password or ""
        for piece in sorted({password, *password.split("@")}, key=len, reverse=True):
            if len(piece) >= 3:
                line = line.replace(piece, "***")
        return line

    def _connect(self, first: bool = False) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        now = time.monotonic()
        if not first and now < self._down_until:
            raise JournalError(f"the journal database {self.path} is unreachable (retrying "
                               f"every {RETRY_AFTER:g} s)")
        try:
            self._conn = self.psycopg.connect(self.url, autocommit=True,
                                              connect_timeout=max(1, int(self.connect_timeout)),
                                              application_name="nitools",
                                              options=f"-c statement_timeout={STATEMENT_MS}")
        except self.psycopg.Error as exc:
            self._down_until = now + RETRY_AFTER
            reason = self._first_line(exc)
            raise JournalError(f"cannot reach the journal database {self.path}: {reason}: "
                               "check that PostgreSQL runs and the URL is right") from None
        return self._conn

    def _migrate(self) -> None:
        conn = self._connect()
        try:
            with conn.transaction():
                # One station migrates at a time; the others wait, then find nothing to do.
                conn.execute("SELECT pg_advisory_xact_lock(7270140)")
                for statement in POSTGRES_SCHEMA:
                    conn.execute(statement)
                row = conn.execute("SELECT max(version) FROM nitools_schema").fetchone()
                version = row[0] or 1
                for target, statement in MIGRATIONS:
                    if version < target:
                        conn.execute(statement)
                        version = target
                conn.execute("DELETE FROM nitools_schema")
                conn.execute("INSERT INTO nitools_schema (version) VALUES (%s)", (version,))
        except self.psycopg.Error as exc:
            raise JournalError(f"cannot set up the journal database {self.path}: "
                               f"{self._first_line(exc)}") from exc

    def _run(self, sql: str, values: tuple[Any, ...], action: str) -> Any:
        """Run one statement; ``action`` ("write", "read") names it in failures. A lost
        connection is not tried again sooner than RETRY_AFTER, for reads too (the
        ``--once`` lookup runs on the flashing loop)."""
        conn = self._connect()
        try:
            return conn.execute(_placeholders(sql), values)
        except self.psycopg.OperationalError as exc:
            self._conn = None
            self._down_until = time.monotonic() + RETRY_AFTER
            raise JournalError(f"the journal database {self.path} failed: "
                               f"{self._first_line(exc)}") from exc
        except self.psycopg.Error as exc:
            raise JournalError(f"the journal database {self.path} refused a {action}: "
                               f"{self._first_line(exc)}") from exc

    def write(self, sql: str, values: tuple[Any, ...]) -> tuple[int, int]:
        with self._lock:  # the writer thread writes, the loop and the web view read
            if sql.lstrip().upper().startswith("INSERT"):
                return int(self._run(sql + " RETURNING id", values, "write").fetchone()[0]), 1
            return 0, self._run(sql, values, "write").rowcount

    def read(self, sql: str, values: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._run(sql, values, "read")
            names = [column.name for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


_PLACEHOLDER = re.compile(r"\?")


def _placeholders(sql: str) -> str:
    """The journal's SQL has no literal '?' or '%': placeholders only."""
    return _PLACEHOLDER.sub("%s", sql)


def _owner(path: Path) -> str:
    import pwd

    try:
        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (KeyError, OSError):
        return "uid " + str(path.stat().st_uid)


def open_store(location: str | os.PathLike[str], readonly: bool) -> SqliteStore | PostgresStore:
    if is_postgres(location):
        try:
            urlsplit(str(location)).password  # noqa: B018 (parsing is the check)
        except ValueError as exc:
            raise JournalError(f"--journal: not a valid PostgreSQL URL ({exc}): write it as "
                               "postgresql://USER:PASSWORD@HOST/DATABASE") from None
        return PostgresStore(str(location), readonly)
    return SqliteStore(Path(location), readonly)
