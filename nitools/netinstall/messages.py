"""Payloads of the netinstall commands, built and parsed. Pure: no I/O.

Newline and NUL handling is exact to the device's parser
(docs/protocol.md §3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nitools.netinstall.frame import Frame
from nitools.netinstall.protocol import (  # noqa: F401  (the command words, re-exported)
    DSCV,
    END_OF_FILES,
    FILE,
    MAX_FILE_NAME,
    MAX_KEY_LENGTH,
    NACK,
    OFFR,
    RETR,
    STRT,
    TERM,
    WTRM,
    YACK,
)


class MessageError(ValueError):
    """A payload that does not parse as the command it should be."""


@dataclass(frozen=True)
class Announcement:
    """The fields of a DSCV, by position. v6 images send six lines, v7 seven."""

    software_id: str
    key: str
    model: str
    arch: str
    min_version: str
    image_version: str | None = None  # v7 only: the boot image's own version

    @property
    def is_v7(self) -> bool:
        return self.image_version is not None


# A software ID as boards announce it (ABCD-EFGH): letters, digits and dashes.
_SOFTWARE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}\Z")


def is_software_id(text: str) -> bool:
    """Whether ``text`` has the shape of a software ID a board can announce."""
    return _SOFTWARE_ID.match(text) is not None


def build_dscv(info: Announcement) -> bytes:
    fields = [info.software_id, info.key, info.model, info.arch, info.min_version]
    if info.image_version is not None:
        fields.append(info.image_version)
    return b"DSCV\n" + "".join(f"{f}\n" for f in fields).encode() + b"\0"


def parse_dscv(payload: bytes) -> Announcement:
    """Parse by position; empty fields are fine, extra trailing fields are ignored."""
    if not payload.startswith(b"DSCV\n"):
        raise MessageError("not a DSCV")
    body = payload[5:].split(b"\0", 1)[0]
    lines = body.split(b"\n")
    # Every field ends with "\n", so the element after the last newline is empty.
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) < 5:
        raise MessageError(f"DSCV has {len(lines)} fields, at least 5 are needed")
    text = [line.decode("utf-8", "replace") for line in lines]
    return Announcement(text[0], text[1], text[2], text[3], text[4],
                        text[5] if len(text) > 5 else None)


def build_offer(key: str = "", keep: bool = False) -> bytes:
    """``OFFR\\n<key>\\n<keep or empty>\\n\\n\\0``, the form of the official tool
    (docs/protocol.md §3.2)."""
    if "\n" in key or "\0" in key or len(key) > MAX_KEY_LENGTH:
        raise MessageError(f"a licence key must be one line of at most {MAX_KEY_LENGTH} characters")
    return b"OFFR\n" + key.encode() + b"\n" + (b"keep" if keep else b"") + b"\n\n\0"


@dataclass(frozen=True)
class Offer:
    key: str
    keep: bool


def parse_offer(payload: bytes) -> Offer | None:
    """The device's reading of an OFFR; None where the device ignores it."""
    if not payload.startswith(OFFR):
        return None
    text = payload.split(b"\0", 1)[0]
    lines = text.split(b"\n")
    # lines[0] is "OFFR"; the key needs its terminating newline, so lines[2] must exist.
    if len(lines) < 3 or len(lines[1]) > MAX_KEY_LENGTH:
        return None
    keep = len(lines) >= 4 and lines[2] == b"keep"
    return Offer(lines[1].decode("ascii", "replace"), keep)


def build_file_header(name: str, size: int) -> bytes:
    if not name or "\n" in name or "\0" in name or "/" in name:
        raise MessageError(f"'{name}' is not a plain file name")
    if len(name) > MAX_FILE_NAME:
        raise MessageError(f"file name '{name}' is longer than {MAX_FILE_NAME} characters")
    return f"FILE\n{name}\n{size}\n".encode()


@dataclass(frozen=True)
class FileHeader:
    name: str
    size: int


def parse_file_header(payload: bytes) -> FileHeader | None:
    """The device's reading of a frame in the between-files slot.

    None means "no more files": the device reads anything that is not a complete
    FILE header (``FILE\\n`` alone, an empty frame, garbage) that way (docs/protocol.md §3.10).
    """
    if not payload.startswith(b"FILE\n"):
        return None
    parts = payload[5:].split(b"\n")
    if len(parts) < 3:  # name and size each need their newline
        return None
    name = parts[0][:MAX_FILE_NAME].decode("utf-8", "replace")
    try:
        size = int(parts[1].split(b"\0")[0] or b"0")
    except ValueError:
        size = 0
    if size < 0 or not name:
        return None
    return FileHeader(name, size)


def is_announcement(frame: Frame) -> bool:
    """A board's DSCV: the first frame of a board looking for a server."""
    return frame.seq == 1 and frame.ack == 0 and frame.payload.startswith(DSCV)


def is_wtrm(frame: Frame) -> bool:
    """A board that has all its files and waits for TERM to reboot."""
    return frame.payload == WTRM


def term_answer(wtrm: Frame) -> Frame:
    """The TERM a board waiting in WTRM accepts: from the server it talks to, seq its
    ack + 1, ack its seq (docs/protocol.md §2.2). Answering a WTRM with TERM is always
    safe (§3.11)."""
    return Frame(wtrm.dst, wtrm.src, wtrm.ack + 1, wtrm.seq, TERM)
