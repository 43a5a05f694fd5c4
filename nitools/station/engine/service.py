"""Proof in service (docs/verify.md): after a reboot, the board is expected to announce
itself with MNDP running the version it was sent (and the identity its first-boot script
set). Pure: announcements and time in, InService events out; the station core drives it.

A board is matched by any of its port MACs or by its software ID (RouterOS may announce
from another port than the one it was installed on). Announcements of boards not awaited
cost one dictionary lookup; at most MAX_AWAITED boards are awaited (the oldest go).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from nitools.bounded import Bounded
from nitools.netinstall.events import InService, Outcome
from nitools.netinstall.frame import format_mac
from nitools.netinstall.mndp import Neighbour

MAX_AWAITED = 4096
UPTIME_MARGIN = 5.0  # seconds: uptime is whole seconds, and our TERM's time is our own
NOT_SEEN = "not seen in service"
BOOTED_REASON = ("came up and asked for an address{name}; its version was not announced on "
                 "this port: docs/verify.md")
@dataclass
class Awaited:
    mac: bytes  # the MAC the station answered
    macs: tuple[bytes, ...]
    software_id: str
    version: str  # the system package's version that was sent
    identity: str | None  # what the first-boot script sets, if it does
    rebooted_at: float
    deadline: float
    heard_other: str = ""  # an announcement that did not match yet (for the reason)
    asked_for_address: str | None = None  # a DHCP request since the reboot: what it said


class ServiceCheck:
    def __init__(self, timeout: float = 300.0, required: bool = False) -> None:
        self.timeout = timeout
        self.required = required  # --verify: not heard is a failure (UNVERIFIED)
        self._awaited: OrderedDict[bytes, Awaited] = OrderedDict()  # by answered MAC
        self._by_mac: dict[bytes, Awaited] = {}
        self._by_id: dict[str, Awaited] = {}
        self.ignored = 0  # announcements of other devices
        # Boards with a verdict announce on (once a minute): not "other devices"
        self._decided: Bounded[bytes | str, None] = Bounded(MAX_AWAITED)

    def __len__(self) -> int:
        return len(self._awaited)

    def expect(self, mac: bytes, macs: tuple[bytes, ...], software_id: str, version: str,
               identity: str | None, now: float, rebooted_at: float | None = None) -> None:
        """Await this board from now; ``rebooted_at``: when it was sent TERM (the time to
        its first announcement is counted from then; the timeout from now)."""
        self._drop(mac)
        awaited = Awaited(mac, tuple(macs) or (mac,), software_id, version, identity,
                          now if rebooted_at is None else rebooted_at, now + self.timeout)
        self._awaited[mac] = awaited
        for port_mac in awaited.macs:
            self._by_mac[port_mac] = awaited
        if software_id:
            self._by_id[software_id] = awaited
        while len(self._awaited) > MAX_AWAITED:
            self._drop(next(iter(self._awaited)))

    def heard(self, neighbour: Neighbour, now: float) -> list[InService]:
        awaited = self._by_mac.get(neighbour.mac) if neighbour.mac is not None else None
        if awaited is None and neighbour.software_id:
            awaited = self._by_id.get(neighbour.software_id)
        if awaited is None and (neighbour.mac in self._decided or (
                neighbour.software_id and neighbour.software_id in self._decided)):
            return []  # a board of this run, heard again after its verdict
        if awaited is None or not self._fits(neighbour, awaited, now):
            self.ignored += 1
            return []
        seconds = now - awaited.rebooted_at
        running = neighbour.version_number
        details = {"version": neighbour.version, "identity": neighbour.identity,
                   "board": neighbour.board, "uptime": neighbour.uptime, "seconds": seconds}
        if running != awaited.version:
            self._drop(awaited.mac)
            return [InService(now, awaited.mac, Outcome.WRONG_VERSION,
                              f"the board booted RouterOS {running or '(no version)'}, not "
                              f"{awaited.version}: the install did not take", **details)]
        if awaited.identity is not None and neighbour.identity != awaited.identity:
            # The first announcement may come before the script set the name: wait on.
            awaited.heard_other = (f"it runs {running} but announces identity "
                                   f"'{neighbour.identity}', not '{awaited.identity}': the "
                                   "first-boot script may not have run")
            return []
        self._drop(awaited.mac)
        identity = f", identity '{neighbour.identity}'" if neighbour.identity else ""
        return [InService(now, awaited.mac, Outcome.VERIFIED,
                          f"in service: RouterOS {neighbour.version or running}{identity}, "
                          f"announced {seconds:.1f} s after the TERM", **details)]

    def asked_for_address(self, mac: bytes, detail: str, at: float) -> bytes | None:
        """A DHCP request (with a message type: not the boot loader's bare BOOTP) from one
        of an awaited board's MACs, sent after its reboot: RouterOS's default configuration
        runs a DHCP client on ether1. The board's answered MAC the first time, else None."""
        awaited = self._by_mac.get(mac)
        if awaited is None or at < awaited.rebooted_at or awaited.asked_for_address is not None:
            return None
        awaited.asked_for_address = detail
        return awaited.mac

    @staticmethod
    def _fits(neighbour: Neighbour, awaited: Awaited, now: float) -> bool:
        """Whether an announcement can be the awaited board's, booted since our TERM: it
        says its uptime, and that uptime fits a boot after the TERM (a neighbour that
        never went down, or a forged datagram of a MAC and a version, does not count);
        and a software ID it names is the board's."""
        if neighbour.uptime is None or neighbour.uptime > now - awaited.rebooted_at + \
                UPTIME_MARGIN:
            return False
        return not (neighbour.software_id and awaited.software_id
                    and neighbour.software_id != awaited.software_id)

    def poll(self, now: float) -> list[InService]:
        """Boards whose time ran out. Deadlines grow in the order boards are awaited
        (one timeout for all), so only the oldest need looking at."""
        out = []
        while self._awaited:
            awaited = next(iter(self._awaited.values()))
            if awaited.deadline > now:
                break
            self._drop(awaited.mac)
            why = awaited.heard_other or (
                f"{NOT_SEEN}: no MNDP announcement by {format_mac(awaited.mac)} or software "
                f"ID {awaited.software_id or '-'} within {self.timeout:g} s (docs/verify.md)")
            outcome = Outcome.UNVERIFIED if self.required else Outcome.REBOOTED
            if awaited.asked_for_address is not None and not awaited.heard_other:
                # Seen up, but MNDP said nothing here (the LAN list, docs/verify.md)
                outcome = Outcome.BOOTED
                said = awaited.asked_for_address
                why = BOOTED_REASON.format(name=f" ({said})" if said.startswith("host")
                                           else "")
            out.append(InService(now, awaited.mac, outcome, why))
        return out

    def next_deadline(self) -> float | None:
        if not self._awaited:
            return None
        return next(iter(self._awaited.values())).deadline

    def _drop(self, mac: bytes) -> None:
        awaited = self._awaited.pop(mac, None)
        if awaited is None:
            return
        for key in (*awaited.macs, awaited.software_id):
            if key:
                self._decided.put(key, None)
        for port_mac in awaited.macs:
            if self._by_mac.get(port_mac) is awaited:
                del self._by_mac[port_mac]
        if awaited.software_id and self._by_id.get(awaited.software_id) is awaited:
            del self._by_id[awaited.software_id]
