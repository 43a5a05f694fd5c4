"""Where rows live: the SQLite store's guarantees and what a database error may say."""

import os
import sqlite3

import pytest

from nitools.journal.stores import (
    SCHEMA_VERSION,
    JournalError,
    PostgresStore,
    SqliteStore,
    open_store,
    redact,
)


def test_a_new_sqlite_journal_is_wal_fully_synced_and_at_the_newest_schema(tmp_path):
    store = SqliteStore(tmp_path / "j.sqlite3", readonly=False)
    try:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {row[1] for row in store.db.execute("PRAGMA table_info(attempts)")}
        assert {"station", "port", "cause"} <= columns
    finally:
        store.close()


def test_a_read_only_store_changes_nothing_and_names_a_foreign_file(tmp_path):
    with pytest.raises(JournalError, match="choose another with --journal PATH"):
        SqliteStore(tmp_path / "missing.sqlite3", readonly=True)
    assert not (tmp_path / "missing.sqlite3").exists()  # reading created nothing
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE unrelated (x)")
    with pytest.raises(JournalError, match="not a nitools journal"):
        SqliteStore(other, readonly=True)


def test_a_password_never_shows_in_urls_or_database_errors():
    assert redact("postgresql://u:s3cret@db.lan/nitools") == "postgresql://u:***@db.lan/nitools"
    pytest.importorskip("psycopg")
    # libpq splits at the first '@': it reads host "ret@127.0.0.1" and says so.
    with pytest.raises(JournalError) as failed:
        PostgresStore("postgresql://u:sec@ret@127.0.0.1:1/db", readonly=True,
                      connect_timeout=1)
    assert "sec" not in str(failed.value) and "ret" not in str(failed.value)
    assert "postgresql://u:***@" in str(failed.value)


def test_a_location_picks_its_store(tmp_path):
    store = open_store(tmp_path / "j.sqlite3", readonly=False)
    assert isinstance(store, SqliteStore)
    store.close()


READER = """
import logging, sys
from pathlib import Path
logging.basicConfig(format="%(levelname)s %(message)s")
from nitools.journal.stores import SqliteStore
print(SqliteStore(Path(sys.argv[1]), True).read("SELECT count(*) AS n FROM attempts")[0]["n"])
"""


STATION_KILLED = """
import os, sys
from nitools.journal.attempts import Journal
from nitools.journal.writer import JournalWriter
from tests.helpers import attempt_events
writer = JournalWriter(Journal(sys.argv[1]))
for event in attempt_events(bytes.fromhex("024e49000002")):
    writer(event)
os._exit(0)  # no close: as a station killed with SIGKILL
"""


def _as_nobody_possible(repo) -> bool:
    import shutil
    import subprocess

    if os.geteuid() != 0 or not shutil.which("runuser") or not os.path.exists("/usr/bin/python3"):
        return False
    return subprocess.run(["runuser", "-u", "nobody", "--", "test", "-r",
                           str(repo / "nitools" / "journal" / "stores.py")]).returncode == 0


def test_another_user_reads_a_journal_the_station_writes():
    """Issue 29 row 4: `history` as a user failed on the station's (root's) WAL journal
    with "attempt to write a readonly database". It reads, and says what may be missing."""
    import subprocess
    import sys

    from nitools.journal.attempts import Journal
    from nitools.journal.writer import JournalWriter
    from tests.helpers import REPO, attempt_events

    if not _as_nobody_possible(REPO):
        pytest.skip("needs root, runuser, /usr/bin/python3 and a checkout 'nobody' can read")
    import shutil
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="nitools-journal-"))  # pytest's tmp is root's only
    folder.chmod(0o755)
    path = folder / "j.sqlite3"
    # A station (root) wrote a row and stopped: its journal is in WAL mode, with no index
    journal = Journal(path)
    writer = JournalWriter(journal)
    for event in attempt_events(bytes.fromhex("024e49000001")):
        writer(event)
    journal.close()
    assert not (folder / "j.sqlite3-shm").exists()
    path.chmod(0o644)  # readable by all, writable by root only; the folder root's only

    def read() -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", "nobody", "--", "env", f"PYTHONPATH={REPO}",
                               "/usr/bin/python3", "-c", READER, str(path)],
                              capture_output=True, text=True, timeout=60)

    try:
        stopped = read()
        assert stopped.returncode == 0, stopped.stderr  # was: attempt to write a readonly
        assert stopped.stdout.strip() == "1" and stopped.stderr == ""  # all there: no warning
        # A station killed mid-run leaves its log and index: read through them
        killed = subprocess.run([sys.executable, "-c", STATION_KILLED, str(path)],
                                env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
        assert killed.returncode == 0 and (folder / "j.sqlite3-wal").exists()
        for left in folder.iterdir():
            left.chmod(0o644)
        after_kill = read()
        assert after_kill.returncode == 0 and after_kill.stdout.strip() == "2", after_kill
    finally:
        shutil.rmtree(folder)
