"""A small PE32 / PE32+ writer for extraction tests: an executable whose .rsrc
section holds RT_RCDATA entries (boot images), a version block and a manifest,
laid out as a resource compiler and linker lay them out. Deterministic, pure
standard library, no toolchain; the committed fixtures were built by a real
toolchain and tie this writer to it (see test_extract).

Structures: Microsoft PE/COFF specification (headers, sections, the resource
directory tree) and the VS_VERSIONINFO layout of version resources.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping

RT_RCDATA, RT_VERSION, RT_MANIFEST = 10, 16, 24
FILE_ALIGN, SECTION_ALIGN = 0x200, 0x1000
PE_OFFSET = 0x80

Key = int | str  # a resource type, name or language: numeric id or a name


def _round_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def _pad4(data: bytearray) -> None:
    data.extend(b"\0" * (-len(data) % 4))


# ----------------------------------------------------------------- version


def _version_node(key: str, value: bytes = b"", *, text: bool, children: tuple[bytes, ...] = (),
                  value_length: int | None = None) -> bytes:
    """One VS_VERSIONINFO node: length, value length, type, key, value, children."""
    node = bytearray(6) + key.encode("utf-16-le") + b"\0\0"
    _pad4(node)
    node += value
    for child in children:
        _pad4(node)
        node += child
    if value_length is None:
        value_length = len(value) // 2 if text else len(value)  # text: in UTF-16 units
    struct.pack_into("<HHH", node, 0, len(node), value_length, 1 if text else 0)
    return bytes(node)


def version_block(version: str, lang: int, strings: Mapping[str, str] | None,
                  fixed_version: str | None = None) -> bytes:
    numbers = fixed_version or re.match(r"\d+(\.\d+)*", version).group()  # type: ignore[union-attr]
    parts = [int(p) for p in numbers.split(".")][:4]
    parts += [0] * (4 - len(parts))
    high, low = parts[0] << 16 | parts[1], parts[2] << 16 | parts[3]
    # VS_FIXEDFILEINFO: signature, struct version, file and product versions, flags, OS, type
    fixed = struct.pack("<13I", 0xFEEF04BD, 0x10000, high, low, high, low,
                        0x3F, 0, 0x40004, 1, 0, 0, 0)
    children = []
    if strings:
        table = tuple(_version_node(k, v.encode("utf-16-le") + b"\0\0", text=True)
                      for k, v in strings.items())
        language = _version_node(f"{lang:04x}04b0", text=True, children=table)
        children.append(_version_node("StringFileInfo", text=True, children=(language,)))
    translation = _version_node("Translation", struct.pack("<HH", lang, 1200), text=False)
    children.append(_version_node("VarFileInfo", text=True, children=(translation,)))
    return _version_node("VS_VERSION_INFO", fixed, text=False, children=tuple(children),
                         value_length=len(fixed))


# ---------------------------------------------------------------- resources


def _ordered(keys: list[Key]) -> list[Key]:
    """Named entries first (by name), then numeric ids ascending, as the format requires."""
    names = sorted(k for k in keys if isinstance(k, str))
    ids = sorted(k for k in keys if isinstance(k, int))
    return [*names, *ids]


def resource_section(tree: Mapping[Key, Mapping[Key, Mapping[Key, bytes]]], rva: int) -> bytes:
    """``tree[type][name][language] = data`` as a .rsc section starting at ``rva``:
    the three directory levels, then data entries, name strings, and the data."""
    directories: list[tuple[tuple[Key, ...], list[Key]]] = [((), _ordered(list(tree)))]
    for kind in _ordered(list(tree)):
        directories.append(((kind,), _ordered(list(tree[kind]))))
    for kind in _ordered(list(tree)):
        for name in _ordered(list(tree[kind])):
            directories.append(((kind, name), _ordered(list(tree[kind][name]))))
    leaves = [(*path, lang) for path, keys in directories if len(path) == 2 for lang in keys]

    offset = 0
    directory_at: dict[tuple[Key, ...], int] = {}
    for path, keys in directories:
        directory_at[path] = offset
        offset += 16 + 8 * len(keys)
    leaf_at = {}
    for leaf in leaves:
        leaf_at[leaf] = offset
        offset += 16
    string_at = {}
    for name in sorted({k for _, keys in directories for k in keys if isinstance(k, str)}):
        string_at[name] = offset
        offset += 2 + 2 * len(name)
    data_at = {}
    for leaf in leaves:
        offset = _round_up(offset, 8)
        data_at[leaf] = offset
        offset += len(tree[leaf[0]][leaf[1]][leaf[2]])

    section = bytearray(_round_up(offset, 8))
    for path, keys in directories:
        named = sum(isinstance(k, str) for k in keys)
        struct.pack_into("<IIHHHH", section, directory_at[path], 0, 0, 0, 0, named,
                         len(keys) - named)
        for index, key in enumerate(keys):
            ident = 0x80000000 | string_at[key] if isinstance(key, str) else key
            child = (*path, key)
            target = leaf_at[child] if len(child) == 3 else 0x80000000 | directory_at[child]
            struct.pack_into("<II", section, directory_at[path] + 16 + 8 * index, ident, target)
    for leaf in leaves:
        data = tree[leaf[0]][leaf[1]][leaf[2]]
        struct.pack_into("<IIII", section, leaf_at[leaf], rva + data_at[leaf], len(data), 0, 0)
        section[data_at[leaf]:data_at[leaf] + len(data)] = data
    for name, at in string_at.items():
        encoded = name.upper().encode("utf-16-le")
        struct.pack_into("<H", section, at, len(name))
        section[at + 2:at + 2 + len(encoded)] = encoded
    return bytes(section)


# --------------------------------------------------------------------- PE


def _section_header(name: bytes, virtual_size: int, rva: int, raw_size: int, raw_at: int,
                    flags: int) -> bytes:
    return struct.pack("<8sIIIIIIHHI", name, virtual_size, rva, raw_size, raw_at, 0, 0, 0, 0,
                       flags)


def build_pe(bits: int, tree: Mapping[Key, Mapping[Key, Mapping[Key, bytes]]]) -> bytes:
    plus = bits == 64
    optional_size = 240 if plus else 224
    headers_size = _round_up(PE_OFFSET + 4 + 20 + optional_size + 2 * 40, FILE_ALIGN)
    code = b"\xc3"  # ret
    code_rva, code_at = SECTION_ALIGN, headers_size
    rsrc_rva = code_rva + _round_up(len(code), SECTION_ALIGN)
    rsrc = resource_section(tree, rsrc_rva)
    rsrc_at = code_at + _round_up(len(code), FILE_ALIGN)
    rsrc_raw = _round_up(len(rsrc), FILE_ALIGN)
    image_size = rsrc_rva + _round_up(len(rsrc), SECTION_ALIGN)

    out = bytearray(rsrc_at + rsrc_raw)
    out[0:2] = b"MZ"
    struct.pack_into("<I", out, 0x3C, PE_OFFSET)
    out[0x40:0x40 + 30] = b"nitools test PE, not runnable\0"
    out[PE_OFFSET:PE_OFFSET + 4] = b"PE\0\0"
    machine, characteristics = (0x8664, 0x22) if plus else (0x14C, 0x102)
    struct.pack_into("<HHIIIHH", out, PE_OFFSET + 4, machine, 2, 0, 0, 0, optional_size,
                     characteristics)
    at = PE_OFFSET + 24
    if plus:
        struct.pack_into("<HBBIIIIIQ", out, at, 0x20B, 2, 40, FILE_ALIGN, rsrc_raw, 0,
                         code_rva, code_rva, 0x140000000)
        tail = struct.pack("<IIHHHHHHIIIIHHQQQQII", SECTION_ALIGN, FILE_ALIGN, 6, 0, 0, 0,
                           6, 0, 0, image_size, headers_size, 0, 2, 0x8160,
                           0x200000, 0x1000, 0x100000, 0x1000, 0, 16)
        directories = at + 112
    else:
        struct.pack_into("<HBBIIIIIII", out, at, 0x10B, 2, 40, FILE_ALIGN, rsrc_raw, 0,
                         code_rva, code_rva, rsrc_rva, 0x400000)
        tail = struct.pack("<IIHHHHHHIIIIHHIIIIII", SECTION_ALIGN, FILE_ALIGN, 4, 0, 0, 0,
                           4, 0, 0, image_size, headers_size, 0, 2, 0x140,
                           0x200000, 0x1000, 0x100000, 0x1000, 0, 16)
        directories = at + 96
    out[(at + 32):(at + 32) + len(tail)] = tail
    struct.pack_into("<II", out, directories + 2 * 8, rsrc_rva, len(rsrc))  # the resource table
    sections = at + optional_size
    out[sections:sections + 40] = _section_header(b".text", len(code), code_rva, FILE_ALIGN,
                                                  code_at, 0x60000020)
    out[sections + 40:sections + 80] = _section_header(b".rsrc", len(rsrc), rsrc_rva, rsrc_raw,
                                                       rsrc_at, 0x40000040)
    out[code_at:code_at + len(code)] = code
    out[rsrc_at:rsrc_at + len(rsrc)] = rsrc
    return bytes(out)


def prefixed(image: bytes, slack: int = 0) -> bytes:
    """A boot image as netinstall.exe stores it: its length (uint32 LE), the image, slack."""
    return struct.pack("<I", len(image)) + image + bytes(slack)


def build_exe(rcdata: Mapping[Key, bytes], *, bits: int = 64, version: str = "7.16.1",
              lang: int = 0x409, version_strings: bool = True,
              fixed_version: str | None = None) -> bytes:
    """A netinstall-like executable: ``rcdata`` entries as given (use ``prefixed``)."""
    strings = {
        "CompanyName": "nitools test suite",
        "FileDescription": "Synthetic netinstall fixture (no MikroTik code)",
        "FileVersion": version,
        "OriginalFilename": "netinstall64.exe" if bits == 64 else "netinstall.exe",
        "ProductName": "Netinstall fixture",
        "ProductVersion": version,
    } if version_strings else None
    manifest = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                b'<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0">'
                b'<assemblyIdentity type="win32" name="nitools.fixture" version="1.0.0.0"/>'
                b"</assembly>\n")
    tree: dict[Key, dict[Key, dict[Key, bytes]]] = {
        RT_RCDATA: {key: {lang: data} for key, data in rcdata.items()},
        RT_VERSION: {1: {lang: version_block(version, lang, strings, fixed_version)}},
        RT_MANIFEST: {1: {lang: manifest}},
    }
    return build_pe(bits, tree)
