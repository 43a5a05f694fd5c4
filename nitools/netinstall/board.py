"""What the flasher knows about a board: its announcement, as plugins see it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nitools.netinstall.frame import format_mac
from nitools.netinstall.messages import Announcement


@dataclass(frozen=True)
class DeviceInfo:
    """pyNetinstall's ``info``: attributes, and dict-style access for convenience."""

    mac: bytes
    model: str
    arch: str
    min_os: str
    lic_id: str
    lic_key: str
    image_version: str | None = None  # the boot image's own version (v7 boards only)

    @classmethod
    def from_announcement(cls, mac: bytes, announcement: Announcement) -> DeviceInfo:
        return cls(mac, announcement.model, announcement.arch, announcement.min_version,
                   announcement.software_id, announcement.key, announcement.image_version)

    @property
    def mac_text(self) -> str:
        return format_mac(self.mac)

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)

    def as_dict(self, with_key: bool = False) -> dict[str, Any]:
        data = asdict(self)
        data["mac"] = self.mac_text
        if not with_key:
            data["lic_key"] = "<hidden>" if self.lic_key else ""
        return data

    def describe(self, with_key: bool = False) -> str:
        """For logs. The licence key only when asked for: boards broadcast it in clear."""
        parts = [self.mac_text, self.model or "unknown model", self.arch or "unknown arch"]
        if self.lic_id:
            parts.append(f"software-id {self.lic_id}")
        if with_key and self.lic_key:
            parts.append(f"key {self.lic_key}")
        if self.min_os:
            parts.append(f"min {self.min_os}")
        if self.image_version:
            parts.append(f"boot image {self.image_version}")
        return ", ".join(parts)
