"""Read RouterOS packages (.npk) without trusting their file names.

Layout (docs/formats.md §1): a 4-byte magic, a u32 length of the rest of
the file, then type-length-value "parts" back to back up to the exact end of the
file. The reader walks every part once, streaming: large parts (the SquashFS
image) are hashed in chunks, never held in memory.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from nitools.errors import PackageError
from nitools.routeros.version import RouterOSVersion

MAGIC = b"\x1e\xf1\xd0\xba"
# What a RouterOS package name may be (routeros, container, wifi-qcom-ac, ...): a name
# read from a package's header or a mirror is checked against it before it names a file.
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def is_package_name(name: str) -> bool:
    return PACKAGE_NAME.fullmatch(name) is not None
PART_HEADER = struct.Struct("<HI")

PART_INFO = 0x01
PART_DESCRIPTION = 0x02
PART_DEPENDENCIES = 0x03
PART_SIGNATURE = 0x09
PART_ARCH = 0x10
PART_BUNDLE_INFO = 0x12
PART_CHANNEL = 0x18
PART_EMPTY_MARKER = 0x19

# Parts whose payload we keep; everything else is only hashed and skipped.
_METADATA_PARTS = {PART_INFO, PART_DESCRIPTION, PART_DEPENDENCIES, PART_SIGNATURE, PART_ARCH,
                   PART_BUNDLE_INFO, PART_CHANNEL}
_MAX_METADATA = 64 * 1024
_READ_CHUNK = 1 << 20

# Files that are often saved as .npk by mistake, recognised by their first bytes.
_IMPOSTORS = (
    (b"<?xml", "an XML document (a download error page?)"),
    (b"<!DOCTYPE", "an HTML page (a download error page?)"),
    (b"<html", "an HTML page (a download error page?)"),
    (b"PK\x03\x04", "a ZIP archive (unpack all_packages-*.zip first)"),
    (b"\x88\xac\xa1\xb1", "a RouterOS backup, not a package"),
    (b"\xef\xa8\x91\x72", "an encrypted RouterOS backup, not a package"),
)

_RELEASE_BYTES = {ord("a"): "alpha", ord("b"): "beta", ord("c"): "rc", ord("f"): "final"}


def decode_version(raw: bytes) -> RouterOSVersion:
    """Decode the 4-byte version field ``[number, release, minor, major]``."""
    number, release_byte, minor, major = raw[0], raw[1], raw[2], raw[3]
    release = _RELEASE_BYTES.get(release_byte, "dev")
    if release == "final" and number & 0x80:
        release, number = "test", number & 0x7F
    return RouterOSVersion.from_parts(major, minor, release, number)


def encode_version(version: RouterOSVersion) -> bytes:
    """The inverse of decode_version, for the synthetic package writer."""
    release_byte = {"alpha": b"a", "beta": b"b", "rc": b"c", "final": b"f", "test": b"f",
                    "dev": b"d"}[version.release]
    number = version.number | (0x80 if version.release == "test" else 0)
    return bytes([number]) + release_byte + bytes([version.minor, version.major])


@dataclass(frozen=True)
class Dependency:
    name: str
    min_version: RouterOSVersion
    max_version: RouterOSVersion


@dataclass
class Package:
    """What a package says about itself."""

    name: str
    version: RouterOSVersion
    build_time: int
    arch: str
    channel: str
    description: str
    kind: str  # "package" (one 0x01 part first) or "bundle" (v6, 0x12 first)
    size: int
    dependencies: list[Dependency] = field(default_factory=list)
    signature_length: int | None = None  # 68 (SHA-1 + KCDSA) or 132 (+ Ed25519)
    digest_ok: bool | None = None  # None when the package has no digest we can check
    part_types: list[int] = field(default_factory=list)

    @property
    def signature_kind(self) -> str:
        """What the signature part holds, by its length (docs/formats.md §1.4)."""
        return {None: "none", 68: "sha1+kcdsa", 132: "sha1+kcdsa+ed25519"}.get(
            self.signature_length, f"unknown ({self.signature_length} bytes)")

    @property
    def is_system(self) -> bool:
        return self.name == "system" or self.name.startswith("routeros")


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def _parse_dependencies(raw: bytes) -> list[Dependency]:
    if len(raw) < 2:
        return []
    fmt = struct.unpack_from("<H", raw)[0]
    if fmt == 0 or len(raw) < 34:
        return []
    return [Dependency(_cstr(raw[2:18]), decode_version(raw[18:22]), decode_version(raw[26:30]))]


def read_package(source: str | os.PathLike[str] | bytes | BinaryIO, label: str = "") -> Package:
    """Read and check a package from a path, bytes, or a seekable binary stream.

    Raises PackageError, with a message saying what is wrong, for anything that
    is not a complete, uncorrupted package.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _read_stream(io.BytesIO(source), len(source), label or "package")
    if isinstance(source, (str, os.PathLike)):
        label = label or os.fspath(source)
        try:
            with open(source, "rb") as stream:
                return _read_stream(stream, os.fstat(stream.fileno()).st_size, label)
        except OSError as exc:
            raise PackageError(f"cannot read {label}: {exc.strerror}") from exc
    stream = source
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return _read_stream(stream, size, label or "package")


def _read_stream(stream: BinaryIO, size: int, label: str) -> Package:
    head = stream.read(16)
    if size == 0:
        raise PackageError(f"{label} is empty (0 bytes): download the package again")
    if not head.startswith(MAGIC):
        for prefix, what in _IMPOSTORS:
            if head.lstrip().lower().startswith(prefix.lower()):
                raise PackageError(f"{label} is {what}, not a RouterOS package")
        raise PackageError(f"{label} is not a RouterOS package (no NPK magic at the start)")
    if size < 8:
        raise PackageError(f"{label} is truncated ({size} bytes): download it again")
    declared = struct.unpack_from("<I", head, 4)[0] + 8
    if declared > size:
        raise PackageError(
            f"{label} is truncated: {size} bytes, header says {declared}: download it again")
    if declared < size:
        raise PackageError(
            f"{label} has {size - declared} bytes of junk after the package: download it again")

    stream.seek(8)
    digest = hashlib.sha1()
    metadata: dict[int, bytes] = {}
    part_types: list[int] = []
    first_part: int | None = None
    signature: bytes | None = None
    position = 8
    while position < size:
        if size - position < PART_HEADER.size:
            raise PackageError(f"{label} is damaged: a part header is cut off at byte {position}")
        header = stream.read(PART_HEADER.size)
        part_type, length = PART_HEADER.unpack(header)
        position += PART_HEADER.size
        if length > size - position:
            raise PackageError(
                f"{label} is damaged: part 0x{part_type:02x} at byte {position - 6} "
                f"runs past the end of the file")
        part_types.append(part_type)
        if first_part is None and part_type != PART_EMPTY_MARKER:
            first_part = part_type
        hashed = signature is None and part_type != PART_EMPTY_MARKER
        if hashed:
            digest.update(header)
        if part_type in _METADATA_PARTS and length <= _MAX_METADATA:
            payload = stream.read(length)
            if part_type == PART_SIGNATURE and signature is None:
                signature = payload
            elif hashed:
                digest.update(payload)
            # The first architecture part counts; a later 1-byte one is a trailer.
            metadata.setdefault(part_type, payload)
        else:
            remaining = length
            while remaining:
                chunk = stream.read(min(remaining, _READ_CHUNK))
                if not chunk:
                    raise PackageError(f"{label} could not be read to its end")
                if hashed:
                    digest.update(chunk)
                remaining -= len(chunk)
        position += length

    if first_part == PART_INFO:
        kind = "package"
    elif first_part == PART_BUNDLE_INFO:
        kind = "bundle"
    else:
        raise PackageError(f"{label} has the NPK magic but no package identity part")
    identity = metadata.get(first_part, b"")
    if len(identity) < 24:
        raise PackageError(f"{label} is damaged: its identity part is too short")

    digest_ok: bool | None = None
    if signature is not None and len(signature) >= 20 and kind == "package":
        digest_ok = digest.digest() == signature[:20]
        if not digest_ok:
            raise PackageError(
                f"{label} is corrupted: its SHA-1 digest does not match: download it again")

    return Package(
        name=_cstr(identity[:16]),
        version=decode_version(identity[16:20]),
        build_time=struct.unpack_from("<I", identity, 20)[0],
        arch=_cstr(metadata.get(PART_ARCH, b"")),
        channel=_cstr(metadata.get(PART_CHANNEL, b"")),
        description=_cstr(metadata.get(PART_DESCRIPTION, b"")),
        kind=kind,
        size=size,
        dependencies=_parse_dependencies(metadata.get(PART_DEPENDENCIES, b"")),
        signature_length=None if signature is None else len(signature),
        digest_ok=digest_ok,
        part_types=part_types,
    )
