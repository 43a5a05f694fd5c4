"""Build synthetic RouterOS packages that follow the NPK layout exactly.

They carry no MikroTik bytes: the "SquashFS" part is seeded pseudo-random data
behind an ``hsqs`` marker, and the signature part holds a correct SHA-1 digest
followed by zero bytes instead of MikroTik's signatures. Used by the demo, the
emulator and the tests; real boards would refuse these packages.
"""

from __future__ import annotations

import hashlib
import random
import struct

from nitools.routeros.npk import (
    MAGIC,
    PART_ARCH,
    PART_CHANNEL,
    PART_DEPENDENCIES,
    PART_DESCRIPTION,
    PART_EMPTY_MARKER,
    PART_HEADER,
    PART_INFO,
    PART_SIGNATURE,
    encode_version,
)
from nitools.routeros.version import parse_version

PART_DIGEST_TEXT = 0x17
PART_ZERO_PAD = 0x16
PART_SQUASHFS = 0x15
SYNTHETIC_MARKER = "SYNTHETIC nitools test package, not MikroTik software"


def _part(part_type: int, payload: bytes) -> bytes:
    return PART_HEADER.pack(part_type, len(payload)) + payload


def build_npk(
    name: str = "system",
    version: str = "7.16.1",
    arch: str = "arm64",
    *,
    size: int = 64 * 1024,
    channel: str = "stable",
    requires: tuple[str, str] | None = None,
    leading_empty_part: bool = True,
    signature_length: int = 132,
    build_time: int = 1_700_000_000,
    seed: int = 0,
    extra_parts: tuple[tuple[int, bytes], ...] = (),
) -> bytes:
    """A package of about ``size`` bytes (at least one 4 KiB block of payload).

    ``requires=("system", "7.16.1")`` writes a dependency record, as extra
    packages have. Without it the dependency part is the empty format 0.
    ``extra_parts`` are (type, payload) parts placed before the padding, e.g.
    part types a reader does not know. ``signature_length=0`` leaves out the
    signature part.
    """
    encoded_version = encode_version(parse_version(version))
    identity = name.encode()[:16].ljust(16, b"\0") + encoded_version
    identity += struct.pack("<I", build_time) + bytes(8) + struct.pack("<I", 3)
    if requires:
        required = encode_version(parse_version(requires[1]))
        dependencies = (struct.pack("<H", 1) + requires[0].encode()[:16].ljust(16, b"\0")
                        + required + bytes(4) + required + bytes(4))
    else:
        dependencies = struct.pack("<H", 0)

    parts = []
    if leading_empty_part:
        parts.append(_part(PART_EMPTY_MARKER, b""))
    parts += [
        _part(PART_INFO, identity),
        _part(PART_CHANNEL, channel.encode()),
        _part(PART_ARCH, arch.encode()),
        _part(PART_DESCRIPTION, f"{name} {version} {arch}: {SYNTHETIC_MARKER}".encode()),
        _part(PART_DIGEST_TEXT, hashlib.sha1(f"{name}{version}{seed}".encode()).hexdigest()
              .encode()),
        _part(PART_DEPENDENCIES, dependencies),
        *(_part(part_type, payload) for part_type, payload in extra_parts),
    ]
    # Pad so that the image payload starts on a 4096-byte boundary, as real packages do.
    offset = 8 + sum(len(p) for p in parts) + 2 * PART_HEADER.size
    parts.append(_part(PART_ZERO_PAD, bytes(-offset % 4096)))
    blocks = max(1, (size - offset) // 4096)
    image = b"hsqs" + random.Random(seed).randbytes(blocks * 4096 - 4)
    parts.append(_part(PART_SQUASHFS, image))

    if signature_length:
        digest = hashlib.sha1()
        for part in parts:
            if struct.unpack_from("<H", part)[0] != PART_EMPTY_MARKER:
                digest.update(part)
        signature_header = PART_HEADER.pack(PART_SIGNATURE, signature_length)
        digest.update(signature_header)
        parts.append(signature_header + digest.digest().ljust(signature_length, b"\0"))
    parts.append(_part(PART_ARCH, b"I"))

    body = b"".join(parts)
    return MAGIC + struct.pack("<I", len(body)) + body
