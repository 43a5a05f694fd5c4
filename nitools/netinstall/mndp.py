"""MNDP, MikroTik's neighbour discovery (UDP 5678), as far as a station needs it: how a
booted RouterOS announces itself, and the request that asks it to (docs/verify.md).

A datagram is a 4-byte header (type u8, TTL u8, sequence u16 big-endian) and then TLVs
of u16 type and u16 length, both big-endian. The four zero bytes of a header with no
TLVs ask every neighbour to announce itself at once. Pure: bytes in, values out.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

MNDP_PORT = 5678
DISCOVERY_REQUEST = b"\x00\x00\x00\x00"
HEADER = 4
MAX_ANNOUNCEMENT = 1500  # one Ethernet frame; anything longer is not a board's

# TLV types (the ones RouterOS sends; others are skipped).
MAC, IDENTITY, VERSION, PLATFORM, UPTIME, SOFTWARE_ID, BOARD, UNPACK, IPV6, INTERFACE, IPV4 \
    = 1, 5, 7, 8, 10, 11, 12, 14, 15, 16, 17
_TEXT = {IDENTITY: "identity", VERSION: "version", PLATFORM: "platform",
         SOFTWARE_ID: "software_id", BOARD: "board", INTERFACE: "interface"}
MAX_TEXT = 255  # longer text fields are cut: nothing a board sends is longer
# What RouterOS announces as its version: "7.16.1 (stable)", "7.23rc1 (testing)".
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?(?:(?:alpha|beta|rc)\d+)?(?: \([a-z-]+\))?\Z")
# Text fields are printable only: a newline in an identity must not become a log line.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class MndpError(ValueError):
    """Not an MNDP announcement."""


@dataclass(frozen=True)
class Neighbour:
    """What one announcement says; text fields decoded leniently (UTF-8, else Latin-1)."""

    mac: bytes | None = None
    identity: str = ""
    version: str = ""  # "7.16.1 (stable)"
    platform: str = ""  # "MikroTik"
    uptime: int | None = None  # seconds
    software_id: str = ""
    board: str = ""  # "RB5009UG+S+"
    interface: str = ""
    ipv4: str = ""
    ipv6: str = ""

    @property
    def version_number(self) -> str:
        """``7.16.1`` of ``7.16.1 (stable)``."""
        return self.version.split(" ", 1)[0].strip()


def is_request(data: bytes) -> bool:
    return data == DISCOVERY_REQUEST


def parse(data: bytes) -> Neighbour:
    """An announcement; MndpError for a request, a truncated or garbled datagram."""
    if len(data) <= HEADER:
        raise MndpError("no fields (a discovery request, or too short)")
    if len(data) > MAX_ANNOUNCEMENT:
        raise MndpError(f"{len(data)} bytes: longer than any announcement")
    fields: dict[str, object] = {}
    offset = HEADER
    while offset < len(data):
        if offset + 4 > len(data):
            raise MndpError(f"a field header cut short at byte {offset}")
        kind, length = struct.unpack_from(">HH", data, offset)
        offset += 4
        if offset + length > len(data):
            raise MndpError(f"field {kind} claims {length} bytes, {len(data) - offset} left")
        value = data[offset:offset + length]
        offset += length
        if kind == MAC:
            if length != 6:
                raise MndpError(f"a MAC of {length} bytes")
            fields["mac"] = bytes(value)
        elif kind == UPTIME:
            if length != 4:
                raise MndpError(f"an uptime of {length} bytes")
            fields["uptime"] = struct.unpack("<I", value)[0]  # little-endian, unlike the rest
        elif kind in _TEXT:
            fields[_TEXT[kind]] = _text(value[:MAX_TEXT])
        elif kind == IPV4 and length == 4:
            fields["ipv4"] = ".".join(str(b) for b in value)
        elif kind == IPV6 and length == 16:
            fields["ipv6"] = ":".join(value[i:i + 2].hex() for i in range(0, 16, 2))
    if "mac" not in fields and "software_id" not in fields:
        raise MndpError("neither a MAC nor a software ID: nothing names the board")
    version = fields.get("version")
    if version and not _VERSION.match(str(version)):
        raise MndpError("a version that is no RouterOS version")
    return Neighbour(**fields)  # type: ignore[arg-type]


def build(neighbour: Neighbour, sequence: int = 0) -> bytes:
    """An announcement as RouterOS sends it (the emulator speaks it; tests build them)."""
    out = bytearray(struct.pack(">BBH", 0, 0, sequence & 0xFFFF))

    def put(kind: int, value: bytes) -> None:
        out.extend(struct.pack(">HH", kind, len(value)))
        out.extend(value)

    if neighbour.mac is not None:
        put(MAC, neighbour.mac)
    for kind, name in _TEXT.items():
        text = getattr(neighbour, name)
        if text:
            put(kind, text.encode("utf-8"))
    if neighbour.uptime is not None:
        put(UPTIME, struct.pack("<I", neighbour.uptime & 0xFFFFFFFF))
    if neighbour.ipv4:
        put(IPV4, bytes(int(part) for part in neighbour.ipv4.split(".")))
    put(UNPACK, b"\x00")
    return bytes(out)


def _text(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return _UNPRINTABLE.sub("\ufffd", text)
