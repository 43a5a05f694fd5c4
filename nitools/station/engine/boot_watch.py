"""A reason for every board that never showed up (docs/verify.md). Pure: what dnsmasq did
for each MAC (nitools.netboot.dnsmasq_log) and the netinstall announcements in; Netboot
events (the start of each board's timeline) and Silent events out.

A MAC that got its boot image over TFTP must announce itself in netinstall within
``announce_timeout``; one whose transfer failed, likewise (RouterBOOT tries again). A
vendor class with no boot image here is said once per MAC.
"""

from __future__ import annotations

from nitools.bounded import Bounded
from nitools.netboot.dnsmasq_log import Sighting
from nitools.netinstall.events import FailureCause, Netboot, NetbootKind, Silent

REMEMBERED = 4096
LIKELY_CAUSES = (
    "the boot image {image} is for another architecture than the board's CPU (it asked as "
    "{vendor})",
    "the board's netinstall port is not the one on this station's side (a board boots "
    "through one port and may run netinstall on another, e.g. ether1)",
    "something between them drops broadcasts (a switch with broadcast or storm control, "
    "a firewall, a VLAN)",
)


class BootWatch:
    def __init__(self, announce_timeout: float = 90.0) -> None:
        self.announce_timeout = announce_timeout
        # MAC -> deadline, what it booted, whether the transfer failed, its port
        self._due: Bounded[bytes, tuple[float, str, bool, str | None]] = Bounded(REMEMBERED)
        self._vendor: Bounded[bytes, str] = Bounded(REMEMBERED)
        # no-image and no-address: said once per MAC
        self._told: Bounded[tuple[bytes, NetbootKind], None] = Bounded(REMEMBERED)

    def sighting(self, seen: Sighting, now: float, talking: bool = False
                 ) -> list[Netboot | Silent]:
        """``talking``: the board already announced itself in netinstall since dnsmasq
        saw this (the log is read in another thread and may come late): not awaited."""
        mac = seen.mac
        if seen.kind in (NetbootKind.NO_IMAGE, NetbootKind.NO_ADDRESS):
            if (mac, seen.kind) in self._told:  # it asks again every few seconds
                return []
            self._told.put((mac, seen.kind), None)
            return [Netboot(seen.at, mac, seen.kind, seen.detail, seen.port, seen.address)]
        if seen.kind is NetbootKind.DHCP:
            self._vendor.put(mac, seen.detail.split(",", 1)[0].removeprefix("vendor class "))
        elif seen.kind in (NetbootKind.TFTP, NetbootKind.TFTP_FAILED) and not talking:
            self._due.put(mac, (now + self.announce_timeout, seen.detail,
                                seen.kind is NetbootKind.TFTP_FAILED, seen.port))
        return [Netboot(seen.at, mac, seen.kind, seen.detail, seen.port, seen.address)]

    def announced(self, mac: bytes) -> None:
        """It talks netinstall: not silent."""
        self._due.pop(mac, None)

    def poll(self, now: float) -> list[Silent]:
        out = []
        while self._due:
            mac, (deadline, detail, failed, port) = next(iter(self._due.items()))
            if deadline > now:
                break  # one timeout for all: the oldest is due first
            del self._due[mac]
            seconds = f"{self.announce_timeout:g} s"
            if failed:
                out.append(Silent(now, mac, f"boot image transfer failed ({detail}); the "
                                  f"board did not announce itself within {seconds}",
                                  FailureCause.BOOT_IMAGE_FAILED, port))
                continue
            vendor = self._vendor.get(mac, "an unknown vendor class")
            causes = "; ".join(f"({number}) {cause.format(image=detail, vendor=vendor)}"
                               for number, cause in enumerate(LIKELY_CAUSES, 1))
            out.append(Silent(now, mac, f"got boot image {detail} but never announced itself "
                              f"in netinstall within {seconds}; likely: {causes}",
                              FailureCause.NEVER_ANNOUNCED, port))
        return out

    def next_deadline(self) -> float | None:
        return next(iter(self._due.values()))[0] if self._due else None
