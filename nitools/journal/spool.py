"""Rows a station could not write before it stopped (its journal database was down),
kept in a local file and written at its next start: a stop during an outage loses
nothing.

One JSON object a line (an ``AttemptRow``), in
``$XDG_STATE_HOME/nitools/unwritten-<station>.jsonl``; each is a whole attempt (``id`` is
its row when the start was written and only the end is missing). The file is written
with fsync and rewritten after each row replayed, so a crash while replaying writes no
row twice.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from nitools.journal.attempts import AttemptRow, JournalError, state_dir

log = logging.getLogger("nitools.journal")

_FIELDS = {f.name for f in fields(AttemptRow)}


def spool_path(station: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", station or "station")[:100]
    return state_dir() / f"unwritten-{safe}.jsonl"


def write_spool(path: Path, rows: list[AttemptRow]) -> None:
    """Add rows to the spool (atomically: the whole file is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, read_spool(path) + rows)


def read_spool(path: Path) -> list[AttemptRow]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(_row(json.loads(line)))
        except (ValueError, TypeError):
            log.error("journal spool %s: a damaged line is skipped: %.80s", path, line)
    return rows


def _row(data: Any) -> AttemptRow:
    if not isinstance(data, dict):
        raise TypeError("not an object")
    if "row" in data and "id" not in data:  # written by a nitools before AttemptRow
        data["id"] = data.pop("row")
    return AttemptRow(**{key: value for key, value in data.items() if key in _FIELDS})


def replay(path: Path, journal: Any) -> int:
    """Write the spooled rows into ``journal``; the ones written leave the file. Raises
    JournalError when the journal or the file fails: the rest stays for the next start,
    and a row written but not yet removed from the file is not written twice."""
    try:
        rows = read_spool(path)
    except OSError as exc:
        raise JournalError(f"cannot read the spool {path}: {exc.strerror}") from exc
    done = 0
    for index, row in enumerate(rows):
        done += bool(journal.restore(row))
        try:
            _replace(path, rows[index + 1:])
        except OSError as exc:
            raise JournalError(f"cannot rewrite the spool {path}: {exc.strerror}") from exc
    return done


def _replace(path: Path, rows: list[AttemptRow]) -> None:
    if not rows:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w") as out:
        for row in rows:
            out.write(json.dumps(row.as_dict()) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
