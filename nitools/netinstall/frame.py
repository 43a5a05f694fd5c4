"""The 20-byte netinstall frame header, encoded and decoded. Pure: no I/O.

    0   6  sender MAC
    6   6  recipient MAC (all zero in a DSCV)
    12  2  zero
    14  2  payload length, must equal datagram length - 20
    16  2  seq: the sender's own frame counter
    18  2  ack: the last seq the sender accepted from its peer
    20  n  payload

All integers little-endian (docs/protocol.md §2.1).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from nitools.errors import UsageError
from nitools.netinstall.protocol import COUNTER_LIMIT, MAX_DATAGRAM

HEADER = struct.Struct("<6s6sHHHH")
HEADER_SIZE = HEADER.size  # 20
_pack = HEADER.pack
ZERO_MAC = bytes(6)


class FrameError(ValueError):
    """A datagram that is not a well-formed frame."""


class Frame(NamedTuple):
    """One frame. A tuple: immutable, and cheap to make (one per datagram each way)."""

    src: bytes
    dst: bytes
    seq: int
    ack: int
    payload: bytes  # or a memoryview slice of a file being sent: never copied

    def __repr__(self) -> str:
        shown = bytes(self.payload[:24])
        more = f"+{len(self.payload) - 24} B" if len(self.payload) > 24 else ""
        return (f"Frame({format_mac(self.src)} -> {format_mac(self.dst)}, "
                f"seq={self.seq}, ack={self.ack}, {shown!r}{more})")

    def to_bytes(self) -> bytes:
        """The datagram. Frames are built by our own state machines, whose counters and
        sizes are in range by construction: no checks on this hot path."""
        return _pack(self.src, self.dst, 0, len(self.payload), self.seq,
                     self.ack) + self.payload


def encode(src: bytes, dst: bytes, seq: int, ack: int, payload: bytes = b"") -> bytes:
    """Build one datagram. ``payload`` may be any bytes-like object."""
    if len(src) != 6 or len(dst) != 6:
        raise ValueError("MAC addresses are 6 bytes")
    if not (0 <= seq <= COUNTER_LIMIT and 0 <= ack <= COUNTER_LIMIT):
        raise ValueError(f"counter out of 16-bit range: seq={seq} ack={ack}")
    if len(payload) > MAX_DATAGRAM - HEADER_SIZE:
        raise ValueError(f"payload of {len(payload)} bytes does not fit one frame")
    return HEADER.pack(src, dst, 0, len(payload), seq, ack) + payload


def decode(datagram: bytes) -> Frame:
    """Parse one datagram, applying the device's own length rule (docs/protocol.md §2.3)."""
    if len(datagram) < HEADER_SIZE:
        raise FrameError(f"datagram of {len(datagram)} bytes is shorter than a frame header")
    src, dst, _zero, length, seq, ack = HEADER.unpack_from(datagram)
    if length != len(datagram) - HEADER_SIZE:
        raise FrameError(f"length field {length} does not match payload of "
                         f"{len(datagram) - HEADER_SIZE} bytes")
    return Frame(src, dst, seq, ack, bytes(datagram[HEADER_SIZE:]))


def format_mac(mac: bytes) -> str:
    return mac.hex(":")


def parse_mac(text: str) -> bytes:
    """Parse ``aa:bb:cc:dd:ee:ff`` (or with ``-``, or bare hex); raise ValueError."""
    cleaned = text.strip().replace(":", "").replace("-", "").replace(".", "")
    try:
        if len(cleaned) == 12:
            return bytes.fromhex(cleaned)
    except ValueError:
        pass
    raise ValueError(f"'{text}' is not a MAC address: write six hex pairs like "
                     "00:11:22:33:44:55")


def parse_mac_option(texts: str | tuple[str, ...] | list[str], option: str = "--mac"
                     ) -> frozenset[bytes]:
    """MACs given on the command line (one or repeated): a UsageError names the option
    and says how to write one."""
    try:
        return frozenset(parse_mac(text) for text in ((texts,) if isinstance(texts, str)
                                                      else texts))
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
