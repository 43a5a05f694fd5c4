"""Process-wide set-up shared by the subcommands: logging, stop signals, and the one
place where text from boards and files is made safe to show.

Everything shown to a person may come from the network (a board's model, a forged
announcement) or from a file (a package's name): it is data, never rich markup and never
terminal control. ``clean`` replaces control characters; ``cell`` makes a table cell
that rich never parses; every log record passes through ``CleanLogs``.
"""

from __future__ import annotations

import logging
import logging.config
import os
import re
import signal
from collections.abc import Callable
from typing import Any

from nitools.errors import UsageError

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(text: object) -> str:
    """Text with control characters (escape sequences, bidi overrides) made visible."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def cell(value: object, style: str = "") -> Any:
    """A rich table cell holding ``value`` as plain text: never parsed as markup."""
    from rich.text import Text

    return Text(clean(value), style=style)


class CleanLogs(logging.Filter):
    """Log messages carry board and file text: control characters are made visible, and
    a newline too (text from the wire must never write a line of its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = clean(message).replace("\n", "\\n")
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, ()
        return True


def setup_logging(verbose: int, logging_config: str | None, handler: logging.Handler | None = None
                  ) -> None:
    if logging_config:
        try:
            logging.config.fileConfig(logging_config, disable_existing_loggers=False)
        except Exception as exc:
            raise UsageError(f"cannot use logging config {logging_config}: {exc}") from exc
        for configured in logging.getLogger().handlers:
            configured.addFilter(CleanLogs())
        return
    level = logging.DEBUG if verbose else logging.INFO
    if handler is None:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                               "%Y-%m-%dT%H:%M:%S"))  # ISO 8601
    else:  # a rich handler shows time and level itself
        handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(CleanLogs())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def install_stop_handlers(stop: Callable[[], None]) -> None:
    """SIGINT, SIGTERM and SIGHUP ask the loop to stop instead of killing it mid-frame."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: a closed terminal
        signal.signal(sig, lambda *_: stop())


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``1 board``, ``2 boards``: a count with its noun in the right number."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


WIDE = 120  # columns from which a table shows every column; below, what says how it went


def terminal_width(default: int) -> int:
    """The width for a table printed to a pipe: $COLUMNS when set (a terminal's program
    that pipes), else ``default`` (log files get wide tables)."""
    width = os.environ.get("COLUMNS", "")
    return int(width) if width.isdigit() and int(width) > 0 else default
