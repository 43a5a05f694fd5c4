"""``nitools history``: the journal as a table or JSON."""

from __future__ import annotations

import json
import os
import sys

from rich.console import Console
from rich.table import Table

from nitools.console import cell
from nitools.journal import Journal, JournalError, default_path, format_time, parse_since

_STYLES = {"rebooted": "green", "installed": "green", "unconfirmed": "red", "failed": "red",
           "refused": "yellow", "interrupted": "magenta", "released": "cyan"}


def run_history(path: str | None, since: str | None, limit: int | None, as_json: bool) -> int:
    location = path or str(default_path())
    if not os.path.exists(location):
        raise JournalError(f"no journal at {location}: flash boards first, or give --journal")
    journal = Journal(location, readonly=True)
    try:
        rows = journal.attempts(parse_since(since) if since else None, limit)
    finally:
        journal.close()
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    console = Console(width=None if sys.stdout.isatty() else 200)
    table = Table("#", "started", "MAC", "model", "arch", "software ID", "config", "files",
                  "outcome", "seconds", "reason")
    for row in rows:
        files = ", ".join(f["name"] for f in row["files"])
        duration = f"{row['duration']:.1f}" if row["duration"] is not None else ""
        # Every value may have come from a board or a file: plain text, never markup.
        table.add_row(*(cell(value) for value in (
            row["id"], format_time(row["started_at"]), row["answered_mac"], row["model"] or "",
            row["arch"] or "", row["software_id"] or "", row["config_mode"] or "", files)),
            cell(row["outcome"], _STYLES.get(row["outcome"], "")), duration,
            cell(row["reason"] or ""))
    console.print(table)
    return 0
