"""The engine's own settings: what the station's policies and sessions are told. Each
default is declared here once; ``station.setup`` fills them from the command line,
the environment and the ini file."""

from __future__ import annotations

from dataclasses import dataclass, field

from nitools.netinstall.server import Timing

AFTER_INSTALL = ("reboot", "wait")  # what an installed board is told: TERM now, or later
WAIT = "wait"


@dataclass(frozen=True)
class EngineSettings:
    # Which boards, and when the run ends
    one_shot: bool = False  # end after one board
    count: int | None = None  # end after this many finished boards
    macs: frozenset[bytes] | None = None  # serve only these boards
    once: bool = False  # a board the journal shows installed is left alone
    once_per_mac: bool = False  # a board installed in this run is not offered again (-o)
    # The operator in the loop (docs/station.md)
    hold: bool = False  # a prepared board waits in etherboot until approved
    after_install: str = "reboot"  # or WAIT: an installed board waits for `nitools reboot`
    # Timers and the wire
    grace: float = 60.0  # on stop: seconds running installs may still take
    window: int = 32  # the most frames in flight per board; 1 = stop-and-wait
    max_in_flight: int = 512  # the most frames in flight across all boards of the station
    timing: Timing = field(default_factory=Timing)
    # The flood defence and rests
    max_preparing: int = 32  # boards whose files are being prepared at once; more wait
    flood_rate: int = 50  # new boards per second above which a board must announce twice
    retry_after: float = 10.0  # a board that failed is not offered again for this long
    # Proof in service (docs/verify.md)
    mndp: bool = True  # listen for boards announcing themselves after the reboot
    verify: bool = False  # a board not seen in service is a failure; -1 waits for it
    verify_timeout: float = 300.0  # seconds from the reboot to its first announcement
    announce_timeout: float = 90.0  # from its boot image (TFTP) to netinstall, else silent

    @property
    def goal(self) -> int | None:
        """How many finished boards end the run (None: until stopped)."""
        return 1 if self.one_shot else self.count
