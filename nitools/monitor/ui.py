"""Progress for people: plain log lines everywhere, a live table on a terminal.

Log lines (containers, journald, files): found, validated, formatting, uploading
in 10 % steps, done, failed with the reason. On a terminal a live table shows
one row per board: MAC, model, arch, phase, bytes, rate, ETA, result.
Licence keys never appear: boards are described without them.
"""

from __future__ import annotations

import logging
import sys

from nitools.bounded import Bounded
from nitools.console import WIDE, cell
from nitools.monitor.board_table import BoardTable
from nitools.monitor.tones import BAD, TERMINAL_STYLES, WAIT
from nitools.netinstall import events as ev
from nitools.netinstall.events import Outcome
from nitools.netinstall.frame import format_mac
from nitools.netinstall.messages import Announcement
from nitools.station.engine.board import describe

log = logging.getLogger("nitools.flash")
REMEMBERED = 4096  # boards whose model and port the log lines name (the oldest forgotten)

_DETAILS: dict[type, str] = {
    ev.Accepted: "board accepted the offer",
    ev.Formatting: "formatting the board's disk",
    ev.UploadStarted: "format done, sending files",
    ev.FilesAcknowledged: "all files acknowledged, board installing",
    ev.RebootSent: "TERM sent",
    ev.Held: "files checked, not offered until approved ('nitools approve MAC')",
    ev.WaitingForReboot: "installed, TERM held back until 'nitools reboot MAC'",
}


class LogReporter:
    """One log line per event, and upload progress in 10 % steps."""

    def __init__(self, log_keys: bool = False) -> None:
        self.log_keys = log_keys
        self._ports: Bounded[bytes, str] = Bounded(REMEMBERED)  # each board's interface
        self._steps: dict[bytes, int] = {}
        self._models: Bounded[bytes, str] = Bounded(REMEMBERED)
        self._asked: Bounded[bytes, str] = Bounded(REMEMBERED)  # its DHCP: vendor, address

    def log_handler(self) -> logging.Handler | None:
        return None  # the default stream handler

    def close(self) -> None:
        pass

    def tick(self) -> None:
        pass

    def label(self, mac: bytes) -> str:
        port = self._ports.get(mac)
        where = f"{port} " if port else ""
        return f"{where}{format_mac(mac)} ({self._models.get(mac) or 'board'})"

    def event(self, event: ev.BoardEvent) -> None:
        if isinstance(event, (ev.Found, ev.Skipped)):
            self._remember(event.mac, event.announcement)
        if isinstance(event, (ev.Found, ev.Released, ev.Netboot, ev.Silent)) and event.port:
            self._ports.put(event.mac, event.port)
        text = self._text(event)
        if text is not None:
            level = logging.INFO
            if isinstance(event, (ev.Warned, ev.NotServed)):
                level = logging.WARNING
            elif isinstance(event, ev.Silent) or (
                    isinstance(event, ev.Finished) and not event.outcome.success
                    and event.outcome is not Outcome.SKIPPED):
                level = logging.ERROR
            elif isinstance(event, ev.Netboot):
                # One line per board at INFO: its boot image sent, with how it asked
                level = logging.WARNING if event.kind in (ev.NetbootKind.TFTP_FAILED,
                                                          ev.NetbootKind.NO_IMAGE) \
                    else logging.INFO if event.kind in (ev.NetbootKind.TFTP,
                                                        ev.NetbootKind.DHCP_AFTER_BOOT) \
                    else logging.DEBUG
            elif isinstance(event, ev.InService) and event.outcome is not Outcome.VERIFIED:
                level = logging.WARNING if event.outcome in (Outcome.REBOOTED, Outcome.BOOTED) \
                    else logging.ERROR
            log.log(level, "%s: %s", self.label(event.mac), text)
        if isinstance(event, ev.Finished):
            self._steps.pop(event.mac, None)

    def _remember(self, mac: bytes, announcement: Announcement) -> None:
        self._models.put(mac, announcement.model)

    def _text(self, event: ev.BoardEvent) -> str | None:
        match event:
            case ev.Found(announcement=announcement):
                return "found: " + describe(event.mac, announcement, self.log_keys)
            case ev.Skipped(reason=reason):
                return f"skipped: {reason}"
            case ev.Released():
                return "released: board waiting for reboot answered with TERM"
            case ev.Validated(files=files, configuration=configuration):
                listed = ", ".join(f"{f.name} ({f.size} B)" for f in files)
                return f"validated: {listed}; configuration: {configuration}"
            case ev.Warned(text=text):
                return f"warning: {text}"
            case ev.FileStarted(name=name):
                return f"file: {name}"
            case ev.Progress():
                self._log_steps(event)
                return None
            case ev.Finished():
                return self._finished_text(event)
            case ev.NotServed(reason=reason):
                return reason
            case ev.OperatorActed(action=action, by=by):
                return f"operator: {action} ({by})"
            case ev.Netboot(kind=ev.NetbootKind.DHCP, detail=detail):
                self._asked.put(event.mac, detail)
                return f"dhcp: {detail}"
            case ev.Netboot(kind=ev.NetbootKind.TFTP, detail=detail):
                asked = self._asked.pop(event.mac, None)
                return f"boot image {detail} sent over TFTP" + (f" ({asked})" if asked else "")
            case ev.Netboot(kind=kind, detail=detail):
                return f"{kind.value}: {detail}"
            case ev.Silent(reason=reason):
                return f"SILENT: {reason}"
            case ev.InService(outcome=outcome, reason=reason):
                if outcome is Outcome.VERIFIED:
                    return f"verified: {reason}"
                if outcome is Outcome.REBOOTED:
                    return reason  # "not seen in service: ..."
                return f"{outcome.value.upper()}: {reason}"
        detail = _DETAILS.get(type(event))
        phase = ev.PHASE_AFTER.get(type(event))
        word = phase.value if phase is not None else type(event).__name__.lower()
        return f"{word}: {detail}" if detail else word

    def _finished_text(self, event: ev.Finished) -> str:
        if event.outcome is Outcome.UNCONFIRMED:
            return f"installed, reboot NOT confirmed: {event.reason}"
        if event.outcome is Outcome.SKIPPED:
            return f"skipped: {event.reason}"
        if not event.outcome.success:
            word = "failed" if event.outcome is not Outcome.INTERRUPTED else "interrupted"
            return f"{word}: {event.reason}"
        rate = f", upload {event.upload_rate / 1e6:.1f} MB/s" if event.upload_rate else ""
        return (f"done: installed and rebooted ({event.total_bytes} bytes, {event.seconds:.1f} s "
                f"since found{rate}, {event.retransmissions} frames resent, "
                f"{event.resent_on_timer} of them on our timer)")

    def _log_steps(self, event: ev.Progress) -> None:
        if not event.total_bytes:
            return
        step = event.bytes_acked * 10 // event.total_bytes
        # Every 10 % step gets its line, also when a fast upload passed several at once.
        for passed in range(self._steps.get(event.mac, 0) + 1, step + 1):
            log.info("%s: uploading %d%% of %d bytes", self.label(event.mac), passed * 10,
                     event.total_bytes)
        self._steps[event.mac] = max(step, self._steps.get(event.mac, 0))


def _size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return ""


class RichReporter(LogReporter):
    """A live table of boards on a terminal; log lines scroll above it."""

    MAX_ROWS = 40

    def __init__(self, log_keys: bool = False) -> None:
        super().__init__(log_keys)
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.boards = BoardTable()
        self.live = Live(self._table(), console=self.console, refresh_per_second=4,
                         transient=False)
        self.live.start()

    def log_handler(self) -> logging.Handler:
        from rich.logging import RichHandler

        return RichHandler(console=self.console, show_path=False,
                           log_time_format="%Y-%m-%dT%H:%M:%S")  # ISO 8601, not the locale's

    def close(self) -> None:
        self.live.update(self._table())
        self.live.stop()

    def event(self, event: ev.BoardEvent) -> None:
        super().event(event)
        self.boards(event)

    def tick(self) -> None:
        self.live.update(self._table())

    def _log_steps(self, event: ev.Progress) -> None:
        """The table shows upload progress: the 10 % lines are for logs, not terminals."""

    def _table(self):
        return live_table(self.boards.snapshot()[1][-self.MAX_ROWS:],
                          wide=self.console.width >= WIDE)


def live_table(rows: list[dict], wide: bool = True):
    """The terminal's table of boards, each result in its tone (tones.py). Narrow (80
    columns: a serial console, an SSH window): the MAC, the phase, the bytes and the
    result; the MAC never cut."""
    from rich.table import Table

    table = Table("port", expand=False) if wide else Table(expand=False)
    table.add_column("MAC", no_wrap=True, min_width=17)
    for name in (("model", "arch", "phase", "bytes", "rate", "ETA", "result") if wide
                 else ("phase", "bytes", "result")):
        table.add_column(name)
    for row in rows:
        size = f"{_size(row['done'])} / {_size(row['total'])}" if row["total"] else ""
        rate = f"{_size(row['rate'])}/s" if row["rate"] else ""
        eta = "" if row["finished"] or not row["eta"] else \
            "<1 s" if row["eta"] < 1 else f"{row['eta']:.0f} s"
        result, style = row["result"], TERMINAL_STYLES.get(row["tone"], "")
        if row["tone"] == BAD:
            result = f"{result.upper()}: {row['reason']}"
        # A board that finished shows its result once, in the result column
        phase = cell("" if row["finished"] else row["phase"],
                     style if row["tone"] == WAIT else "")
        if wide:
            table.add_row(cell(row["port"]), row["mac"], cell(row["model"]),
                          cell(row["arch"]), phase, size, rate, eta, cell(result, style))
        else:
            table.add_row(row["mac"], phase, size, cell(result, style))
    return table


def make_reporter(force_plain: bool = False, log_keys: bool = False) -> LogReporter:
    if not force_plain and sys.stderr.isatty():
        return RichReporter(log_keys)
    return LogReporter(log_keys)
