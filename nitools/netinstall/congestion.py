"""How much a station sends before it hears back: each session's window and
retransmission timer (``Congestion``, as TCP keeps them: docs/protocol.md §5.3), and the
ceiling on frames in flight across every session of a station (``SendBudget``). Pure:
round-trip samples, acknowledgements and losses in; a window and a timer out."""

from __future__ import annotations

import random


class SendBudget:
    """Frames in flight across every session of a station, with a ceiling: on top of each
    board's own window, so that hundreds of boards do not flood the link and the
    boards' receive buffers at once. Every session keeps at least one frame in flight."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.in_flight = 0
        self.sessions = 0  # sessions uploading now; each may use its fair share at most
        self.fair_share = 0  # kept by count(), as it is read for every frame sent
        self.count(0)

    def count(self, change: int) -> None:
        """A session started (+1) or stopped (-1) uploading."""
        self.sessions += change
        self.fair_share = max(2, self.limit // max(1, self.sessions))


class Congestion:
    """One session's window and retransmission timer, as TCP keeps them: the window
    grows by one frame per answer up to the threshold the last loss left, then by one per
    round trip, and halves on a loss; the timer follows the measured round trip
    (RFC 6298), from frames sent once only (Karn), with random stretch."""

    def __init__(self, limit: int, min_rto: float, max_rto: float, seed: int) -> None:
        self.limit = max(1, limit)  # the most frames in flight; the window adapts below it
        self.cwnd = float(min(2, self.limit))  # frames in flight now
        self.ssthresh = float(self.limit)  # slow start up to here, then one per round trip
        self._min_rto = min_rto
        self._max_rto = max_rto
        self.rto = max_rto
        self._srtt: float | None = None
        self._rttvar = 0.0
        # Jitter, so that sessions that lost frames together do not resend together.
        self._jitter = random.Random(seed)
        self._rto_factor = 1.0

    @property
    def window(self) -> int:
        return int(self.cwnd)

    @property
    def resend_after(self) -> float:
        """Seconds after the oldest unacknowledged frame went out that it is resent."""
        return self.rto * self._rto_factor

    def on_ack(self) -> None:
        if self.cwnd < self.limit:
            growth = 1.0 if self.cwnd < self.ssthresh else 1.0 / self.cwnd
            self.cwnd = min(self.cwnd + growth, float(self.limit))

    def on_loss(self) -> None:
        self.cwnd = max(1.0, self.cwnd / 2)
        self.ssthresh = max(2.0, self.cwnd)
        self._rto_factor = 1.0 + self._jitter.random() * 0.25

    def on_timer(self) -> None:
        """Our timer fired with nothing heard: back off."""
        self.rto = min(self.rto * 2, self._max_rto)

    def sample(self, rtt: float) -> None:
        """A round trip measured on a frame sent once (Jacobson/Karels smoothing)."""
        if self._srtt is None:
            self._srtt, self._rttvar = rtt, rtt / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt)
            self._srtt = 0.875 * self._srtt + 0.125 * rtt
        rto = self._srtt + 4 * self._rttvar
        # Between the bounds (comparisons, not min() and max(): once per frame).
        self.rto = self._min_rto if rto < self._min_rto else (
            self._max_rto if rto > self._max_rto else rto)
