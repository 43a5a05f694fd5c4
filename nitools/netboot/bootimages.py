"""``nitools extract``: boot images out of netinstall.exe, netinstall64.exe, their
zips, and (experimental) netinstall-cli and its .tar.gz.

Layout (docs/formats.md §2): each image is an RT_RCDATA resource
holding a u32 little-endian length and the image, possibly followed by slack.
Images are named by resource id through the shared architecture table, and the
id is cross-checked against the content (ELF class, endianness, machine; the
PowerPC kernel release suffix; MZ plus the Linux boot header for x86).
Payloads are slices of the memory-mapped file, never copies of the whole exe.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import struct
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pefile
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from nitools.errors import NitoolsError
from nitools.routeros.archs import BOOT_IMAGES, ELF_BIG, ELF_LITTLE, BootImage, boot_image_by_id

RT_RCDATA = pefile.RESOURCE_TYPE["RT_RCDATA"]
_RESOURCE_DIRECTORY = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]
_VERSION_IN_NAME = re.compile(r"(\d+\.\d+(?:\.\d+)?(?:(?:alpha|beta|rc)\d+)?)")
_FIRMWARE_PATH = re.compile(rb"/lib/firmware/updates/(\d+\.\d+(?:\.\d+)?)([-\w.]*)\x00")
_EM_NAMES = {"EM_MIPS": 8, "EM_PPC": 20, "EM_ARM": 40, "EM_AARCH64": 183, "EM_TILEGX": 191,
             "EM_386": 3}
_CLI_TABLE = re.compile(rb"(?:[\x81-\x8f]\x00\x00\x00.{12}){3,}", re.DOTALL)
MAX_MEMBER_BYTES = 256 * 1024 * 1024  # netinstall.exe is ~60 MB; no member unpacks past this
EXPERIMENTAL = "netinstall-cli support is experimental: check the images before use"


class ExtractError(NitoolsError):
    pass


@dataclass
class Image:
    """One boot image found in a source file."""

    resource: str  # "139", or the resource name
    resource_id: int | None
    file_name: str  # netinstall.<arch>, or a content-derived name with the id
    boot_image: BootImage | None
    data: Any  # bytes or a memoryview of the mapped file
    source: str
    slack: int = 0

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Extraction:
    """Everything found in one input file."""

    source: str
    kind: str
    version: str | None = None
    version_source: str | None = None
    images: list[Image] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _keep_open: list[Any] = field(default_factory=list, repr=False)

    def close(self) -> None:
        """Release the mapped input. Image data is unusable afterwards."""
        views = [image.data for image in self.images] + self._keep_open
        for view in views:
            if isinstance(view, memoryview):
                view.release()  # the map cannot close while views of it exist
        self.images.clear()
        for resource in self._keep_open:
            if not isinstance(resource, memoryview):
                with contextlib.suppress(BufferError):  # a view still held elsewhere: GC closes it
                    resource.close()
        self._keep_open.clear()


# --------------------------------------------------------------------- content


@dataclass(frozen=True)
class Content:
    label: str  # content-derived name: arm64, ppc, elf32-be-m8, x86, unknown-4e4f5441
    candidates: tuple[BootImage, ...]  # table rows the content fits
    ppc_variant_known: bool = True


def classify(payload: Any) -> Content:
    head = bytes(payload[:4])
    if head == b"\x7fELF":
        return _classify_elf(payload)
    if head[:2] == b"MZ" and bytes(payload[0x202:0x206]) == b"HdrS":
        x86 = tuple(i for i in BOOT_IMAGES if i.elf is None)
        return Content("x86", x86)
    return Content(f"unknown-{head.hex()}", ())


class _ViewStream(io.RawIOBase):
    """A read-only stream over a memoryview, so pyelftools reads without copying."""

    def __init__(self, view: Any) -> None:
        self.view = memoryview(view)
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: len(self.view)}[whence]
        self.position = max(base + offset, 0)
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        end = len(self.view) if size is None or size < 0 else self.position + size
        chunk = bytes(self.view[self.position:end])
        self.position += len(chunk)
        return chunk


def _classify_elf(payload: Any) -> Content:
    try:
        elf = ELFFile(_ViewStream(payload))
        bits = elf.elfclass
        endian = ELF_LITTLE if elf.little_endian else ELF_BIG
        machine = elf["e_machine"]
        machine = _EM_NAMES.get(machine, machine) if isinstance(machine, str) else machine
    except (ELFError, struct.error, ValueError) as exc:
        return Content(f"bad-elf-{type(exc).__name__}", ())
    matches = tuple(i for i in BOOT_IMAGES if i.elf == (bits, endian, machine))
    if len(matches) > 1:  # the PowerPC images differ only by their kernel release suffix
        variant = _ppc_variant(payload)
        if variant is None:
            return Content("ppc", matches, ppc_variant_known=False)
        matches = tuple(i for i in matches if i.kernel_variant == variant)
    if len(matches) == 1:
        return Content(matches[0].name, matches)
    return Content(f"elf{bits}-{'le' if endian == ELF_LITTLE else 'be'}-m{machine}", ())


def _ppc_variant(payload: Any) -> str | None:
    """The kernel release suffix from the firmware search paths (RouterOS 7 only)."""
    match = _FIRMWARE_PATH.search(payload)  # works on the mapped view, no copy
    return match[2].decode() if match else None


def _identify(resource: str, resource_id: int | None, payload: Any, source: str,
              warnings: list[str]) -> Image:
    expected = boot_image_by_id(resource_id) if resource_id is not None else None
    content = classify(payload)
    if expected is not None and (expected in content.candidates):
        return Image(resource, resource_id, expected.boot_file, expected, payload, source)
    tag = f"id{resource_id}" if resource_id is not None else _safe(resource)
    file_name = f"netinstall.{content.label}-{tag}"
    if expected is None:
        warnings.append(f"resource {resource}: not a known boot-image id; content looks like "
                        f"{content.label}: written as {file_name}")
    else:
        warnings.append(f"resource {resource} should hold the {expected.name} image but holds "
                        f"{content.label}: written as {file_name}")
    return Image(resource, resource_id, file_name, None, payload, source)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:40] or "resource"


# ------------------------------------------------------------------------- PE


def _payload(raw: Any, resource: str, warnings: list[str]) -> tuple[Any, int] | None:
    """The image inside one resource: (bytes, slack), or None when it is not one."""
    if len(raw) >= 4:
        (length,) = struct.unpack_from("<I", raw)
        if 0 < length <= len(raw) - 4:
            return raw[4:4 + length], len(raw) - 4 - length
    if bytes(raw[:4]) == b"\x7fELF" or bytes(raw[:2]) == b"MZ":
        warnings.append(f"resource {resource}: no length prefix, taken whole")
        return raw, 0
    warnings.append(f"resource {resource}: {len(raw)} bytes that are neither a length-prefixed "
                    "image nor an ELF/MZ image: skipped")
    return None


def extract_pe(data: Any, source: str, file_name: str) -> Extraction:
    try:
        if isinstance(data, (str, os.PathLike)):
            pe = pefile.PE(name=os.fspath(data), fast_load=True)
        else:
            pe = pefile.PE(data=data, fast_load=True)
        pe.parse_data_directories(directories=[_RESOURCE_DIRECTORY])
    except (pefile.PEFormatError, struct.error, ValueError) as exc:
        raise ExtractError(f"{source} is a truncated or corrupt PE file ({exc}): "
                           "download netinstall again") from exc
    sections_end = max((s.PointerToRawData + s.SizeOfRawData for s in pe.sections), default=0)
    size = len(pe.__data__)
    if size < sections_end:
        pe.close()
        raise ExtractError(f"{source} is a truncated or corrupt PE file ({size} bytes, its "
                           f"sections need {sections_end}): download netinstall again")
    kind = "netinstall64.exe (PE32+)" if pe.OPTIONAL_HEADER.Magic == 0x20B \
        else "netinstall.exe (PE32)"
    extraction = Extraction(source, kind, _keep_open=[pe])
    extraction.version, extraction.version_source = _pe_version(pe, file_name)
    mapped = memoryview(pe.__data__)
    extraction._keep_open.insert(0, mapped)
    rcdata = [e for e in getattr(pe, "DIRECTORY_ENTRY_RESOURCE", None).entries
              if e.id == RT_RCDATA] if hasattr(pe, "DIRECTORY_ENTRY_RESOURCE") else []
    for type_entry in rcdata:
        for entry in getattr(type_entry, "directory", None).entries if hasattr(
                type_entry, "directory") else []:
            resource = str(entry.id) if entry.id is not None else str(entry.name)
            for language in getattr(getattr(entry, "directory", None), "entries", []):
                raw = _resource_bytes(pe, mapped, language, resource, extraction.warnings)
                if raw is None:
                    continue
                found = _payload(raw, resource, extraction.warnings)
                if found is None:
                    continue
                payload, slack = found
                image = _identify(resource, entry.id, payload, source, extraction.warnings)
                image.slack = slack
                extraction.images.append(image)
                break  # one language per entry is enough; they hold the same image
    if not extraction.images:
        extraction.close()
        raise ExtractError(f"{source} holds no boot images: is it MikroTik's netinstall?")
    return extraction


def _resource_bytes(pe: pefile.PE, mapped: memoryview, language: Any, resource: str,
                    warnings: list[str]) -> Any:
    try:
        entry = language.data.struct
        offset = pe.get_offset_from_rva(entry.OffsetToData)
    except (AttributeError, pefile.PEFormatError) as exc:
        warnings.append(f"resource {resource}: unreadable entry ({exc}): skipped")
        return None
    if offset is None or offset + entry.Size > len(mapped):
        warnings.append(f"resource {resource}: points outside the file: skipped")
        return None
    return mapped[offset:offset + entry.Size]


def _pe_version(pe: pefile.PE, file_name: str) -> tuple[str | None, str | None]:
    for file_info in getattr(pe, "FileInfo", []) or []:
        for block in file_info:
            for table in getattr(block, "StringTable", []) or []:
                value = table.entries.get(b"ProductVersion")
                if value and value.strip():
                    return value.decode("utf-8", "replace").strip(), "ProductVersion"
    fixed = getattr(pe, "VS_FIXEDFILEINFO", None)
    if fixed:
        ms, ls = fixed[0].ProductVersionMS, fixed[0].ProductVersionLS
        parts = [ms >> 16, ms & 0xFFFF, ls >> 16, ls & 0xFFFF]
        while len(parts) > 2 and parts[-1] == 0:
            parts.pop()
        if any(parts):
            return ".".join(map(str, parts)), "fixed file info"
    return _version_from_name(file_name)


def _version_from_name(file_name: str) -> tuple[str | None, str | None]:
    match = _VERSION_IN_NAME.search(os.path.basename(file_name))
    return (match[1], "file name") if match else (None, None)


# ------------------------------------------------------------- netinstall-cli


def extract_cli(data: bytes, source: str, file_name: str) -> Extraction:
    """Images stored raw in the CLI, found through its table of 16-byte records."""
    extraction = Extraction(source, "netinstall-cli (ELF32 i386, experimental)")
    extraction.warnings.append(EXPERIMENTAL)
    extraction.version, extraction.version_source = _version_from_name(file_name)
    try:
        segments = [(s["p_vaddr"], s["p_offset"], s["p_filesz"])
                    for s in ELFFile(io.BytesIO(data)).iter_segments() if s["p_type"] == "PT_LOAD"]
    except (ELFError, struct.error) as exc:
        raise ExtractError(f"{source} is a corrupt ELF file ({exc})") from exc

    def offset_of(address: int, length: int = 1) -> int | None:
        for vaddr, offset, size in segments:
            if vaddr <= address and address + length <= vaddr + size:
                return offset + address - vaddr
        return None

    view = memoryview(data)
    for match in _CLI_TABLE.finditer(data):
        records = []
        for start in range(match.start(), match.end(), 16):
            image_id, name_va, data_va, size = struct.unpack_from("<IIII", data, start)
            where = offset_of(data_va, size)
            if where is None or offset_of(name_va) is None:
                break
            records.append((image_id, where, size))
        if len(records) < 3:
            continue
        for image_id, where, size in records:
            extraction.images.append(
                _identify(str(image_id), image_id, view[where:where + size], source,
                          extraction.warnings))
        return extraction
    raise ExtractError(f"{source} looks like netinstall-cli but its image table was not found")


# --------------------------------------------------------------------- inputs


def extract_file(path: str) -> list[Extraction]:
    """Recognise the input by content and extract every netinstall inside it."""
    name = os.path.basename(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise ExtractError(f"cannot read {path}: {exc.strerror}") from exc
    if head[:2] == b"MZ":
        return [extract_pe(path, path, name)]
    if head[:4] == b"PK\x03\x04":
        return _from_zip(path)
    if head[:2] == b"\x1f\x8b":
        return _from_tar(path)
    if head[:4] == b"\x7fELF" and head[4] == 1 and head[18:20] == b"\x03\x00":
        return [extract_cli(Path(path).read_bytes(), path, name)]
    raise ExtractError(f"{path} is not a netinstall file: give netinstall.exe, netinstall64.exe, "
                       "their .zip, or netinstall-cli")


def _check_member_size(size: int, source: str) -> None:
    if size > MAX_MEMBER_BYTES:
        raise ExtractError(f"{source} says it unpacks to {size} bytes, more than any "
                           f"netinstall ({MAX_MEMBER_BYTES} at most): not a MikroTik archive")


def _spool(handle: Any, source: str) -> str:
    """Copy an archive member to a temporary file, never more than MAX_MEMBER_BYTES (the
    header's size can lie): extraction then maps it instead of holding it in memory."""
    with tempfile.NamedTemporaryFile(prefix="nitools-member-", delete=False) as spooled:
        try:
            copied = 0
            while chunk := handle.read(1 << 20):
                copied += len(chunk)
                _check_member_size(copied, source)
                spooled.write(chunk)
        except BaseException:
            os.unlink(spooled.name)
            raise
    return spooled.name


def _from_zip(path: str) -> list[Extraction]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist()
                       if re.fullmatch(r"netinstall.*\.exe", os.path.basename(m.filename), re.I)]
            if not members:
                raise ExtractError(f"{path} holds no netinstall*.exe: is it the netinstall zip?")
            extractions = []
            for member in members:
                source = f"{path}:{member.filename}"
                _check_member_size(member.file_size, source)  # before a byte is unpacked
                with archive.open(member) as handle:
                    spooled = _spool(handle, source)
                try:
                    extractions.append(extract_pe(spooled, source, os.path.basename(path)))
                finally:
                    os.unlink(spooled)  # the mapped image stays readable
            return extractions
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ExtractError(f"{path} is a damaged zip file ({exc}): download it again") from exc


def _from_tar(path: str) -> list[Extraction]:
    try:
        with tarfile.open(path, "r:*") as archive:
            members = [m for m in archive.getmembers()
                       if m.isfile() and os.path.basename(m.name) == "netinstall-cli"]
            if not members:
                raise ExtractError(f"{path} holds no netinstall-cli")
            source = f"{path}:{members[0].name}"
            _check_member_size(members[0].size, source)
            handle = archive.extractfile(members[0])
            assert handle is not None
            data = handle.read(MAX_MEMBER_BYTES + 1)
            _check_member_size(len(data), source)
            return [extract_cli(data, source, os.path.basename(path))]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ExtractError(f"{path} is a damaged archive ({exc}): download it again") from exc
