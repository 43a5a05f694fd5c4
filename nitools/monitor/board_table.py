"""The boards a station is busy with, as its live displays show them (the terminal's
table and the web view): fed by the station's events on the loop thread (cheap: a dict
update under a lock), read as snapshots by the display's thread."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any

from nitools.monitor.tones import tone
from nitools.netinstall import events as ev
from nitools.netinstall.frame import format_mac

KEEP_FINISHED = 200  # finished boards kept on the page


@dataclass
class BoardRow:
    mac: str
    port: str = ""
    model: str = ""
    arch: str = ""
    software_id: str = ""
    phase: str = ""
    done: int = 0
    total: int = 0
    rate: float | None = None  # bytes per second while uploading
    eta: float | None = None  # seconds left
    result: str = ""
    tone: str = ""  # how the result is shown (tones.py): good, bad or plain
    reason: str = ""
    found_at: float = 0.0  # wall clock
    upload_started: float | None = None  # monotonic
    finished: bool = False


class BoardTable:
    def __init__(self) -> None:
        self.version = 0  # grows with every change: the event stream sends on change
        self.changed = threading.Condition()
        self._rows: OrderedDict[bytes, BoardRow] = OrderedDict()

    def __call__(self, event: Any) -> None:
        if isinstance(event, ev.NotServed):
            return  # a board the station leaves alone: not one of its boards
        with self.changed:
            row = self._rows.get(event.mac)
            if row is None or (isinstance(event, ev.Found) and row.finished):
                row = BoardRow(format_mac(event.mac), found_at=time.time())
                self._rows[event.mac] = row
                self._rows.move_to_end(event.mac)
            self._apply(row, event)
            self._trim()
            self.version += 1
            self.changed.notify_all()

    def _apply(self, row: BoardRow, event: Any) -> None:
        match event:
            case ev.Found(announcement=a, port=port):
                row.model, row.arch, row.software_id = a.model, a.arch, a.software_id
                row.port = port or ""
            case ev.Skipped(announcement=a):
                row.model, row.arch, row.software_id = a.model, a.arch, a.software_id
            case ev.UploadStarted(total_bytes=total):
                row.upload_started, row.total = event.at, total
            case ev.Progress(bytes_acked=done, total_bytes=total):
                row.done, row.total = done, total
                if row.upload_started is not None and event.at > row.upload_started:
                    row.rate = done / (event.at - row.upload_started)
                    row.eta = (total - done) / row.rate if row.rate else None
            case ev.FilesAcknowledged():
                row.done, row.eta = row.total, 0.0
        if isinstance(event, ev.Finished):
            row.phase = row.result = event.outcome.value
            row.reason, row.finished, row.eta = event.reason, True, None
        elif isinstance(event, ev.Skipped):
            row.phase = row.result = "skipped"
            row.reason, row.finished = event.reason, True
        elif isinstance(event, ev.Netboot):
            row.phase = event.kind.value  # dhcp, tftp: booting its netinstall image
            row.port = row.port or event.port or ""
        elif isinstance(event, ev.Silent):
            row.phase = row.result = "silent"
            row.reason, row.finished = event.reason, True
        elif isinstance(event, ev.InService):
            row.phase = row.result = event.outcome.value
            row.reason, row.finished = event.reason, True
        elif isinstance(event, ev.Released):
            row.phase = row.result = "released"
            row.port, row.finished = event.port or "", True
        elif (phase := ev.PHASE_AFTER.get(type(event))) is not None:
            row.phase = phase.value
        row.tone = tone(row.result or row.phase)

    def _trim(self) -> None:
        finished = [mac for mac, row in self._rows.items() if row.finished]
        for mac in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            del self._rows[mac]

    def snapshot(self) -> tuple[int, list[dict[str, Any]]]:
        with self.changed:
            rows = [asdict(row) for row in self._rows.values()]
            version = self.version
        for row in rows:
            del row["upload_started"]
        return version, rows

    def wait_for_change(self, seen: int, timeout: float) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.version != seen, timeout)
            return self.version
