"""``nitools history``: the journal as a table or JSON."""

from __future__ import annotations

import csv
import json
import os
import sys
from dataclasses import dataclass, replace
from typing import Any

from rich.console import Console
from rich.table import Table

from nitools.console import WIDE, cell, terminal_width
from nitools.errors import UsageError
from nitools.journal.attempts import (
    AttemptRow,
    Journal,
    JournalError,
    default_path,
    format_time,
    iso_time,
    parse_since,
)
from nitools.journal.stores import is_postgres
from nitools.journal.timeline import step_text
from nitools.monitor.tones import TERMINAL_STYLES, tone
from nitools.netinstall.frame import format_mac, parse_mac_option


@dataclass(frozen=True)
class HistoryFilter:
    mac: str | None = None
    software_id: str | None = None
    outcome: str | None = None
    station: str | None = None


CSV_COLUMNS = ("id", "started_at", "ended_at", "station", "port", "answered_mac", "macs",
               "software_id", "model", "arch", "min_version", "image_version", "config_mode",
               "files", "outcome", "reason", "cause", "bytes", "duration", "inventory_key",
               "template", "script_sha256", "timeline", "in_service_version",
               "in_service_identity", "in_service_seconds")


def spreadsheet_safe(value: Any) -> Any:
    """Text a board or a file supplied, for a CSV file people open in a spreadsheet: a
    cell starting with = + - @ (or a tab or CR) would be a formula; a ' keeps it text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _read_rows(path: str | None, since: str | None, limit: int | None,
               only: HistoryFilter) -> list[AttemptRow]:
    location = path or str(default_path())
    if not is_postgres(location) and not os.path.exists(location):
        raise JournalError(f"no journal at {location}: flash boards first, or give --journal")
    if only.mac is not None:  # as the journal writes MACs; a bad one is a usage error
        only = replace(only, mac=format_mac(_one_mac(only.mac)))
    journal = Journal(location, readonly=True)
    try:
        return journal.attempts(parse_since(since) if since else None, limit, mac=only.mac,
                                software_id=only.software_id, outcome=only.outcome,
                                station=only.station)
    finally:
        journal.close()


def print_script(path: str | None, only: HistoryFilter, since: str | None = None) -> int:
    """The first-boot script one board got, byte for byte on stdout (comparable with
    ``nitools render``); which attempt it was goes to stderr."""
    if only.mac is None and only.software_id is None:
        raise UsageError("--script shows one board's script: give --mac or --software-id")
    rows = [row for row in _read_rows(path, since, None, only) if row.script_sha256]
    if not rows:
        print("no attempt of this board sent a first-boot script", file=sys.stderr)
        return 1
    row = rows[-1]
    if row.script is None:
        print(f"attempt {row.id} sent a script of SHA-256 {row.script_sha256}, too long to "
              "keep in the journal", file=sys.stderr)
        return 1
    made = f" from template {row.template}" if row.template else ""
    key = f", inventory row {row.inventory_key}" if row.inventory_key else ""
    print(f"# attempt {row.id} of {row.answered_mac}, {format_time(row.started_at)}, "
          f"{row.outcome}{made}{key}, SHA-256 {row.script_sha256}", file=sys.stderr)
    sys.stdout.write(row.script)
    sys.stdout.flush()
    return 0


def print_timelines(path: str | None, only: HistoryFilter, since: str | None = None,
                    limit: int | None = None) -> int:
    """Each attempt of one board, step by step: the time of the first step, then each
    step's seconds after it."""
    if only.mac is None and only.software_id is None:
        raise UsageError("--timeline follows one board: give --mac or --software-id")
    rows = _read_rows(path, since, limit, only)
    if not rows:
        print("no attempts match")
        return 0
    for row in rows:
        print(f"attempt {row.id} of {row.answered_mac} on {row.station or '-'}"
              f"{' port ' + row.port if row.port else ''}: {row.outcome}")
        steps = row.timeline or []
        if not steps:
            print("  (no timeline: written before nitools kept them)")
        first = steps[0]["at"] if steps else 0.0
        for step in steps:
            after = step["at"] - first
            print(f"  {iso_time(step['at'], exact=True)}  {'+' if after else ' '}"
                  f"{after:8.2f} s  {step_text(step)}")
    return 0


def run_history(path: str | None, since: str | None, limit: int | None, as_json: bool,
                only: HistoryFilter = HistoryFilter(), as_csv: bool = False) -> int:
    rows = _read_rows(path, since, limit, only)
    if as_json:
        print(json.dumps([row.for_output() for row in rows], indent=2))
        return 0
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            values = row.for_output()
            values["macs"] = " ".join(row.macs)
            values["files"] = " ".join(f["name"] for f in row.files or ())
            values["timeline"] = " ".join(f"{step_text(step)}@{step['at']}"
                                          for step in values["timeline"])
            service = row.in_service or {}  # what it announced in service, if it was heard
            for name in ("version", "identity", "seconds"):
                values[f"in_service_{name}"] = service.get(name)
            writer.writerow([spreadsheet_safe(values[column]) for column in CSV_COLUMNS])
        return 0
    if not rows:
        print("no attempts match")
        return 0
    console = Console(width=None if sys.stdout.isatty() else terminal_width(200))
    wide = console.width >= WIDE
    table = Table(*(("#", "started", "station", "port") if wide else ("#", "started")))
    table.add_column("MAC", no_wrap=True, min_width=17)  # never cut: it names the board
    for name in (("model", "arch", "software ID", "config", "files") if wide else ()):
        table.add_column(name)
    for name in ("outcome", "seconds", "reason") if wide else ("outcome", "reason"):
        table.add_column(name)
    for row in rows:
        files = ", ".join(f["name"] for f in row.files or ())
        duration = f"{row.duration:.1f}" if row.duration is not None else ""
        outcome = cell(row.outcome, TERMINAL_STYLES.get(tone(row.outcome), ""))
        # Every value may have come from a board or a file: plain text, never markup.
        if wide:
            table.add_row(*(cell(value) for value in (
                row.id, format_time(row.started_at), row.station or "", row.port or "",
                row.answered_mac, row.model or "", row.arch or "", row.software_id or "",
                row.config_mode or "", files)), outcome, duration, cell(row.reason or ""))
        else:  # 80 columns (a serial console, an SSH window): what says how it went
            table.add_row(cell(row.id), cell(format_time(row.started_at)),
                          cell(row.answered_mac), outcome, cell(row.reason or ""))
    console.print(table)
    return 0


def _one_mac(text: str) -> bytes:
    (mac,) = parse_mac_option(text)
    return mac
