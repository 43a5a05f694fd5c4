"""One board as the station core tracks it, from announcement to outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from nitools.netinstall.frame import format_mac
from nitools.netinstall.messages import Announcement
from nitools.netinstall.server import ServerSession
from nitools.station.engine.contract import InstallPlan


@dataclass(eq=False)
class Board:
    mac: bytes  # the port MAC the station answers
    announcement: Announcement
    found_at: float
    port: str | None = None  # the interface it announced on (None: a link without one)
    session: ServerSession | None = None  # None while its files are being prepared
    other_macs: list[bytes] = field(default_factory=list)  # its other ports, not answered
    # It took our offer: only now does it own its software ID (its other ports merge into
    # it, its failures rest the ID), never on an announcement alone (they are forgeable).
    answered: bool = False
    prepare_again_at: float | None = None  # its files were not ready: ask again then
    # What it should announce once RouterOS runs (docs/verify.md): the version sent and
    # the identity its first-boot script sets (None: the script sets none).
    version_sent: str = ""
    identity_set: str | None = None
    # --hold: its plan, checked and ready, kept until an operator approves it
    held_plan: InstallPlan | None = None
    approved_by: str | None = None  # approved before its files were ready: offered at once
    plan_view: dict[str, object] | None = None  # what it gets, for `nitools boards`

    @property
    def macs(self) -> tuple[bytes, ...]:
        return (self.mac, *self.other_macs)

    def __repr__(self) -> str:
        return f"<Board {format_mac(self.mac)} {self.announcement.model!r} {self.session!r}>"


def describe(mac: bytes, announcement: Announcement, with_key: bool = False) -> str:
    """For logs. The licence key only when asked for: boards broadcast it in clear."""
    parts = [format_mac(mac), announcement.model or "unknown model",
             announcement.arch or "unknown arch"]
    if announcement.software_id:
        parts.append(f"software-id {announcement.software_id}")
    if with_key and announcement.key:
        parts.append(f"key {announcement.key}")
    if announcement.min_version:
        parts.append(f"min {announcement.min_version}")
    if announcement.image_version:
        parts.append(f"boot image {announcement.image_version}")
    return ", ".join(parts)
