"""Progress for people: plain log lines everywhere, a live view on a terminal.

Log lines (containers, journald, files): found, validated, formatting,
uploading in 10 % steps, done, failed with the reason. On a terminal a rich
progress bar per board is shown as well.
"""

from __future__ import annotations

import logging
import sys
import time

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


class RichReporter(LogReporter):
    """A progress bar per board on a terminal, on top of the log lines."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.fields[label]}"), TextColumn("{task.fields[phase]:<11}"),
            BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False)
        self._tasks: dict[bytes, int] = {}
        self._last_refresh = 0.0
        self.progress.start()

    def event(self, board: Board, kind: str, detail: str) -> None:
        super().event(board, kind, detail)
        task = self._tasks.get(board.mac)
        if task is None:
            task = self.progress.add_task("", total=None, label=_label(board), phase=kind)
            self._tasks[board.mac] = task
        total = board.plan.total_bytes if board.plan else None
        phase = "uploading" if kind == "file" else kind
        self.progress.update(task, phase=phase, total=total)
        if kind in ("done", "failed"):
            if board.session is not None and kind == "done":
                self.progress.update(task, completed=board.session.total_bytes)
            self._tasks.pop(board.mac, None)

    def tick(self, boards: list[Board]) -> None:
        # The bars show upload progress; the 10 % log lines are for non-terminals.
        now = time.monotonic()
        if now - self._last_refresh < 0.1:
            return
        self._last_refresh = now
        for board in boards:
            task = self._tasks.get(board.mac)
            if task is not None and board.session is not None:
                self.progress.update(task, completed=board.session.bytes_acked)

    def close(self) -> None:
        self.progress.stop()


def make_reporter(force_plain: bool = False) -> LogReporter:
    if not force_plain and sys.stderr.isatty():
        return RichReporter()
    return LogReporter()
