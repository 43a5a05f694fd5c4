"""The record of every attempt: rows, the writer fed by events, its background
thread, the stores (SQLite, PostgreSQL) and the spool for rows not yet written."""
