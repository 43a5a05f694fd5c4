"""A heartbeat for container health checks and supervisors: the station's loop touches
a file every few seconds while it runs; ``nitools health`` says whether it is fresh."""

from __future__ import annotations

import os
import time
from pathlib import Path

BEAT_EVERY = 5.0
DEFAULT_MAX_AGE = 30.0


class Heartbeat:
    def __init__(self, path: str, every: float = BEAT_EVERY) -> None:
        self.path = Path(path)
        self.every = every
        self._last = float("-inf")

    def beat(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if now - self._last < self.every:
            return
        self._last = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        os.utime(self.path)

    def stop(self) -> None:
        self.path.unlink(missing_ok=True)


def check(path: str, max_age: float = DEFAULT_MAX_AGE) -> tuple[bool, str]:
    try:
        age = time.time() - Path(path).stat().st_mtime
    except FileNotFoundError:
        return False, f"no heartbeat at {path}: the station is not running (or starting)"
    except OSError as exc:
        return False, f"cannot read the heartbeat {path}: {exc.strerror}"
    if age > max_age:
        return False, f"the station's heartbeat is {age:.0f} s old: its loop is stuck or gone"
    return True, f"the station is running (heartbeat {age:.0f} s ago)"
