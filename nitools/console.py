"""Process-wide set-up shared by the subcommands: logging and stop signals."""

from __future__ import annotations

import logging
import logging.config
import signal
from collections.abc import Callable

from nitools.errors import UsageError


def setup_logging(verbose: int, logging_config: str | None, handler: logging.Handler | None = None
                  ) -> None:
    if logging_config:
        try:
            logging.config.fileConfig(logging_config, disable_existing_loggers=False)
        except Exception as exc:
            raise UsageError(f"cannot use logging config {logging_config}: {exc}") from exc
        return
    level = logging.DEBUG if verbose else logging.INFO
    if handler is None:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                               "%H:%M:%S"))
    else:  # a rich handler shows time and level itself
        handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def install_stop_handlers(stop: Callable[[], None]) -> None:
    """SIGINT/SIGTERM ask the loop to stop instead of killing it mid-frame."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop())
