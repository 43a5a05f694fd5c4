"""Rows a station could not write before it stopped (its journal database was down),
kept in a local file and written at its next start: a stop during an outage loses
nothing.

One JSON object a line, in ``$XDG_STATE_HOME/nitools/unwritten-<station>.jsonl``; each
is a whole attempt (``row`` is its id when the start was written and only the end is
missing). The file is written with fsync and rewritten after each row replayed, so a
crash while replaying writes no row twice.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("nitools.journal.attempts")

FIELDS = ("row", "started_at", "ended_at", "answered_mac", "macs", "software_id", "model",
          "arch", "min_version", "image_version", "files", "config_mode", "outcome",
          "reason", "bytes", "station", "port")


def spool_path(station: str, state_home: str | None = None) -> Path:
    state = state_home or os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", station or "station")[:100]
    return Path(state) / "nitools" / f"unwritten-{safe}.jsonl"


def write_spool(path: Path, rows: list[dict[str, Any]]) -> None:
    """Add rows to the spool (atomically: the whole file is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, read_spool(path) + rows)


def read_spool(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            log.error("journal spool %s: a damaged line is skipped: %.80s", path, line)
            continue
        if isinstance(row, dict):
            rows.append({key: row.get(key) for key in FIELDS})
    return rows


def replay(path: Path, journal: Any) -> int:
    """Write the spooled rows into ``journal``; the ones written leave the file."""
    rows = read_spool(path)
    done = 0
    for index, row in enumerate(rows):
        journal.restore(row)  # raises JournalError: the rest stays for the next start
        done += 1
        _replace(path, rows[index + 1:])
    return done


def _replace(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
