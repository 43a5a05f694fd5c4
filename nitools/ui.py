"""Progress for people: plain log lines everywhere, a live table on a terminal.

Log lines (containers, journald, files): found, validated, formatting, uploading
in 10 % steps, done, failed with the reason. On a terminal a live table shows
one row per board: MAC, model, arch, phase, bytes, rate, ETA, result.
Licence keys never appear: boards are described without them.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

from nitools.netinstall.frame import format_mac
from nitools.netinstall.station import Board

log = logging.getLogger("nitools.flash")

_LEVELS = {"failed": logging.ERROR, "warning": logging.WARNING}


def _label(board: Board) -> str:
    model = board.info.model or "board"
    return f"{format_mac(board.mac)} ({model})"


class LogReporter:
    """One log line per event, and upload progress in 10 % steps."""

    def __init__(self) -> None:
        self._steps: dict[bytes, int] = {}

    def log_handler(self) -> logging.Handler | None:
        return None  # the default stream handler

    def close(self) -> None:
        pass

    def event(self, board: Board, kind: str, detail: str) -> None:
        text = f"{_label(board)}: {kind}" + (f": {detail}" if detail else "")
        if kind == "done" and board.session is not None:
            seconds = (board.finished_at or board.found_at) - board.found_at
            rate = board.upload_rate
            text += f" ({board.session.total_bytes} bytes, {seconds:.1f} s since found"
            text += f", upload {rate / 1e6:.1f} MB/s" if rate else ""
            text += f", {board.session.retransmissions} frames resent)"
        log.log(_LEVELS.get(kind, logging.INFO), text)
        if kind in ("done", "failed"):
            self._steps.pop(board.mac, None)

    def tick(self, boards: list[Board]) -> None:
        for board in boards:
            session = board.session
            if session is None or not session.total_bytes:
                continue
            step = session.bytes_acked * 10 // session.total_bytes
            # Every 10 % step gets its line, also when a fast upload passed several at once.
            for passed in range(self._steps.get(board.mac, 0) + 1, step + 1):
                log.info("%s: uploading %d%% of %d bytes", _label(board), passed * 10,
                         session.total_bytes)
            self._steps[board.mac] = max(step, self._steps.get(board.mac, 0))


@dataclass
class _Row:
    board: Board
    phase: str
    result: str = ""
    finished_at: float | None = None


def _size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return ""


class RichReporter(LogReporter):
    """A live table of boards on a terminal; log lines scroll above it."""

    MAX_ROWS = 40

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self._rows: dict[bytes, _Row] = {}
        self.live = Live(self._table(), console=self.console, refresh_per_second=4,
                         transient=False)
        self.live.start()

    def log_handler(self) -> logging.Handler:
        from rich.logging import RichHandler

        return RichHandler(console=self.console, show_path=False)

    def close(self) -> None:
        self.live.update(self._table())
        self.live.stop()

    def event(self, board: Board, kind: str, detail: str) -> None:
        super().event(board, kind, detail)
        row = self._rows.setdefault(board.mac, _Row(board, kind))
        row.board = board
        if kind in ("done", "failed", "skipped"):
            row.result = {"done": "installed", "skipped": "skipped"}.get(kind, "FAILED: " + detail)
            row.finished_at = time.monotonic()
            row.phase = "done" if kind == "done" else kind
        elif kind not in ("warning", "file"):
            row.phase = kind
        if len(self._rows) > self.MAX_ROWS:  # forget the oldest finished rows
            finished = [m for m, r in self._rows.items() if r.finished_at is not None]
            for mac in finished[:len(self._rows) - self.MAX_ROWS]:
                del self._rows[mac]

    def tick(self, boards: list[Board]) -> None:
        # The table shows upload progress; 10 % log lines are for non-terminals.
        self.live.update(self._table())

    def _table(self):
        from rich.table import Table

        table = Table("MAC", "model", "arch", "phase", "bytes", "rate", "ETA", "result",
                      expand=False)
        now = time.monotonic()
        for row in self._rows.values():
            board, session = row.board, row.board.session
            done = session.bytes_acked if session is not None else 0
            total = session.total_bytes if session is not None else 0
            rate = eta = ""
            if session is not None and board.upload_started_at is not None:
                end = board.upload_finished_at or now
                seconds = max(end - board.upload_started_at, 1e-6)
                speed = done / seconds
                rate = f"{_size(speed)}/s"
                if speed > 0 and done < total and row.finished_at is None:
                    eta = f"{(total - done) / speed:.0f} s"
            size = f"{_size(done)} / {_size(total)}" if total else ""
            style = "green" if row.result == "installed" else "red" \
                if row.result.startswith("FAILED") else ""
            result = f"[{style}]{row.result}[/]" if style else row.result
            table.add_row(format_mac(board.mac), board.info.model, board.info.arch, row.phase,
                          size, rate, eta, result)
        return table


def make_reporter(force_plain: bool = False) -> LogReporter:
    if not force_plain and sys.stderr.isatty():
        return RichReporter()
    return LogReporter()
