"""Which announcing boards the station takes on, and which strangers it answers.

A board is taken on unless a policy keeps it out: installed already in this run (``-o``),
skipped (``--once``, not in the inventory), not one of ``--mac``, resting after a
failure (by MAC and by software ID), or a one-off MAC while the flood defence is on.
A board waiting for TERM without a session here is answered (always safe:
docs/protocol.md §3.11), once per ``TERM_ANSWER_INTERVAL``, unless it announced itself
a moment ago (then a WTRM in its name is forged). Every table is bounded: forged MACs
by the thousand cannot grow the station.
"""

from __future__ import annotations

from nitools.bounded import Bounded, RateBudget
from nitools.netinstall import messages
from nitools.netinstall.frame import Frame
from nitools.netinstall.protocol import COUNTER_LIMIT
from nitools.station.engine.settings import EngineSettings

TERM_ANSWER_INTERVAL = 0.2  # answer one board's WTRMs at most this often outside a session
REMEMBERED = 4096  # boards remembered per table (released, rested): older ones are forgotten
SEEN = 65536  # MACs remembered from one announcement, for the flood defence
FLOOD_HOLD = 10.0  # seconds the flood defence stays on after the last burst of new MACs
RECENTLY = 3.0  # a MAC that announced this recently is not a board waiting for TERM
STEADY = 0.5  # boards announce once a second: a repeat this long after the first is steady
TOLD_PER_SECOND = 1.0  # boards told apart as not served, at most (a flood tells a few)
TOLD_BURST = 10.0


class Admission:
    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.announced: Bounded[bytes, float] = Bounded(REMEMBERED)  # MAC -> last DSCV
        self._released: Bounded[bytes, float] = Bounded(REMEMBERED)  # MAC -> last TERM sent
        self._resting: Bounded[bytes, float] = Bounded(REMEMBERED)  # MAC -> offered again at
        self._resting_ids: Bounded[str, float] = Bounded(REMEMBERED)  # software ID -> same
        self._installed: Bounded[bytes, float] = Bounded(SEEN)  # -o: installed this run
        self._skipped: Bounded[bytes, float] = Bounded(REMEMBERED)  # --once, not listed
        # Flood defence: MACs seen once, and the count of new MACs this second.
        self._seen: Bounded[bytes, float] = Bounded(SEEN)
        self._window_start = 0.0
        self._new_in_window = 0
        self._flood_until = 0.0  # until then, only steady announcers are taken
        self._told: Bounded[bytes, float] = Bounded(REMEMBERED)  # MACs told as not served
        self._tell = RateBudget(TOLD_PER_SECOND, TOLD_BURST)

    def heard(self, mac: bytes, now: float) -> None:
        """A board announced itself (whether it is taken on or not)."""
        self.announced.put(mac, now)

    def keeps_out(self, mac: bytes, now: float) -> bool:
        """A policy leaves this MAC alone now (before its announcement is even parsed)."""
        allowed = self.settings.macs
        return (mac in self._installed or mac in self._skipped
                or (allowed is not None and mac not in allowed)
                or self._resting.get(mac, 0.0) > now)

    def not_pinned(self, mac: bytes) -> bool:
        """``--mac`` names boards, and not this one."""
        allowed = self.settings.macs
        return allowed is not None and mac not in allowed

    def tell_once(self, mac: bytes, now: float) -> bool:
        """Whether to tell about this MAC now: once per MAC, a few a second at most."""
        if mac in self._told or not self._tell.take(now):
            return False
        self._told.put(mac, now)
        return True

    def resting_id(self, software_id: str, now: float) -> bool:
        return bool(software_id) and self._resting_ids.get(software_id, 0.0) > now

    def admit(self, mac: bytes, now: float, preparing: int) -> bool:
        """Caps against announcement floods. A real board announces about once a second,
        steadily. While new MACs arrive faster than ``flood_rate`` per second (and for
        FLOOD_HOLD seconds after), a board is taken only once it has announced steadily:
        again, at least STEADY seconds after its first announcement. One-off forged MACs,
        and forged MACs sent twice in a row, never cost a preparation."""
        if now - self._window_start >= 1.0:
            self._window_start, self._new_in_window = now, 0
        first_heard = self._seen.get(mac)
        if first_heard is not None:
            self._seen.touch(mac)  # its first time stays: steadiness counts from there
        else:
            self._new_in_window += 1
            self._seen.put(mac, now)
            if self._new_in_window > self.settings.flood_rate:
                self._flood_until = now + FLOOD_HOLD
        steady = first_heard is not None and now - first_heard >= STEADY
        if not steady and now < self._flood_until:
            return False
        return preparing < self.settings.max_preparing  # else: it announces again

    def release(self, wtrm: Frame, now: float) -> tuple[list[Frame], bool]:
        """The TERM answer for a board waiting without a session here (or nothing), and
        whether this is the first answer to that MAC."""
        if wtrm.seq != wtrm.ack or wtrm.ack >= COUNTER_LIMIT or wtrm.dst == bytes(6):
            return [], False  # not what a board in WTRM sends
        mac = wtrm.src
        if now - self.announced.get(mac, float("-inf")) < RECENTLY:
            return [], False  # it announces itself: not waiting for TERM (a forged WTRM)
        last = self._released.get(mac)
        if last is not None and now - last < TERM_ANSWER_INTERVAL:
            return [], False  # its repeats come every 1 s; a flood of copies gets one answer
        self._released.put(mac, now)
        return [messages.term_answer(wtrm)], last is None

    def rest(self, mac: bytes, software_id: str, now: float) -> None:
        """Not offered again for ``retry_after``: by MAC, and by software ID (one board
        announcing on many MACs, or forged announcements reusing an ID)."""
        until = now + self.settings.retry_after
        self._resting.put(mac, until)
        if software_id:
            self._resting_ids.put(software_id, until)

    def skip(self, mac: bytes, now: float) -> None:
        """Left alone for the rest of the run (``--once``, not in the inventory)."""
        self._skipped.put(mac, now)

    def forget(self, mac: bytes) -> None:
        """An operator asked for this board again (``nitools reinstall``): whatever kept
        it out of this run (-o, --once, not listed, a rest) no longer does."""
        for table in (self._installed, self._skipped, self._resting):
            table.pop(mac, None)

    def installed(self, mac: bytes, now: float) -> None:
        """``-o``: each board once per run."""
        if self.settings.once_per_mac:
            self._installed.put(mac, now)
