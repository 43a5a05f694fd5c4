"""Where rows live: the SQLite store's guarantees and what a database error may say."""

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
