"""A heartbeat for container health checks and supervisors: the station's loop touches
a file every few seconds while it runs; ``nitools health`` says whether it is fresh."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from nitools.errors import UsageError

log = logging.getLogger("nitools.flash")

BEAT_EVERY = 5.0
DEFAULT_MAX_AGE = 30.0


class Heartbeat:
    def __init__(self, path: str, every: float = BEAT_EVERY) -> None:
        self.path = Path(path)
        self.every = every
        self._last = float("-inf")
        self._failed = False

    def beat(self, now: float | None = None) -> None:
        """Touch the file (at most every ``every`` s). A failure is logged once: the
        heartbeat then goes stale, which is what a health check is for."""
        now = time.monotonic() if now is None else now
        if now - self._last < self.every:
            return
        self._last = now
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
            os.utime(self.path)
        except OSError as exc:
            if not self._failed:
                log.error("cannot write the heartbeat %s: %s", self.path, exc.strerror)
            self._failed = True
        else:
            self._failed = False

    def first_beat(self) -> None:
        """At start: a heartbeat that cannot be written is a usage error, not a stale
        station an hour later."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as exc:
            raise UsageError(f"--health-file {self.path}: cannot write it ({exc.strerror}): "
                             "choose a writable path") from None
        self._last = time.monotonic()

    def stop(self) -> None:
        self.path.unlink(missing_ok=True)


def check(path: str, max_age: float = DEFAULT_MAX_AGE) -> tuple[bool, str]:
    try:
        age = time.time() - Path(path).stat().st_mtime
    except FileNotFoundError:
        running = running_stations()
        if running:  # a station runs here, with no heartbeat at this path
            return False, (f"no heartbeat at {path}, but {', '.join(running)} "
                           f"run{'s' if len(running) == 1 else ''} here: give --file the "
                           "station's --health-file (it keeps none unless started with one)")
        return False, f"no heartbeat at {path}: the station is not running (or starting)"
    except OSError as exc:
        return False, f"cannot read the heartbeat {path}: {exc.strerror}"
    if age > max_age:
        return False, f"the station's heartbeat is {age:.0f} s old: its loop is stuck or gone"
    return True, f"the station is running (heartbeat {age:.0f} s ago)"


def running_stations() -> list[str]:
    """The stations running on this machine for this user (their control sockets answer)."""
    from nitools.monitor.control import answers, station_sockets

    return [f"station {path.stem}" for path in station_sockets() if answers(path)]
