"""One bounded table for every memory that strangers on the wire can grow: MACs heard,
boards rested, answers cached; and one rate budget for what they can make the station
do. The bounds are a flood defence (a stream of made-up MACs must not grow the station
without end), so each says its bound once, here."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
_NONE: list = []  # returned (never changed) when nothing was forgotten: no allocation


class Bounded(OrderedDict[K, V], Generic[K, V]):
    """A table of at most ``limit`` entries, oldest first. ``put`` makes an entry the
    newest and forgets the oldest past the limit, returning what it forgot."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        if limit < 1:
            raise ValueError("a bounded table holds at least one entry")
        self.limit = limit

    def put(self, key: K, value: V) -> list[tuple[K, V]]:
        self[key] = value
        self.move_to_end(key)
        if len(self) <= self.limit:
            return _NONE
        return [self.popitem(last=False) for _ in range(len(self) - self.limit)]

    def touch(self, key: K) -> None:
        """Make ``key`` the newest without changing its value."""
        self.move_to_end(key)


class RateBudget:
    """A token bucket: so many a second, with a burst. What strangers can make the station
    do (journal rows, log lines) is paid from one, and counted past it."""

    def __init__(self, per_second: float, burst: float) -> None:
        self.per_second = per_second
        self.burst = burst
        self._tokens = burst
        self._at = 0.0

    def take(self, now: float) -> bool:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
