"""The netinstall exchange as data: limits, command words, and the sequence plan.

Written once and read by the flasher (``server.py``), the emulated board
(``device.py``), the package rules (``validate.py``) and the frame counter, so
no rule of the protocol exists twice. Pure: imports nothing of nitools.

Frame numbering is fixed by the protocol (docs/protocol.md
§2.2, §3, §4), so every server frame is a function of its seq alone:

    seq 1            OFFR            board answers YACK (or NACK)
    seq 2            empty: format   board answers STRT, after seconds to minutes
    seq 3            empty: start    board answers RETR (between files)
    per file         FILE header, data chunks, empty end-of-file; RETR for each
    seq end          FILE\\n          board answers WTRM
    seq end+1        TERM\\n          no answer: the board reboots
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Sequence
from dataclasses import dataclass

# ------------------------------------------------------------------ limits
MAX_DATAGRAM = 4096  # the board reads at most this much per datagram
MAX_CHUNK = 1452  # 1500 MTU - 20 IP - 8 UDP - 20 header: the largest unfragmented payload
COUNTER_LIMIT = 0xFFFF  # counters are 16-bit on the wire and must not wrap
MAX_FILE_NAME = 80  # the board keeps this many characters of a file name
MAX_KEY_LENGTH = 512  # the longest licence key line the board reads from an OFFR
# The scripts a board runs from what it was sent (docs/protocol.md §3.9), named once.
CONFIG_SCRIPT_NAME = "autorun.scr"  # the first-boot script, run once RouterOS is up
MODE_SCRIPT_NAME = "mode.scr"  # RouterOS 7.22+ runs it first, once (device-mode)

# ------------------------------------------------------------ command words
DSCV = b"DSCV"
OFFR = b"OFFR"
YACK = b"YACK\n"
NACK = b"NACK\n"
STRT = b"STRT"
RETR = b"RETR"
WTRM = b"WTRM"
TERM = b"TERM\n"
FILE = b"FILE"
END_OF_FILES = b"FILE\n"

# --------------------------------------------------------------- the plan
OFFER_SEQ = 1
FORMAT_SEQ = 2
START_SEQ = 3
FIRST_FILE_SEQ = 4


class Role(enum.Enum):
    """What a server frame is, by its place in the sequence."""

    OFFER = "offer"
    FORMAT = "format"
    START = "start"
    FILE_HEADER = "file header"
    DATA = "data"
    END_OF_FILE = "end of file"
    END_OF_FILES = "end of files"
    TERM = "term"


# The board's answer to each kind of server frame; TERM gets none (the board reboots).
REPLY: dict[Role, bytes | None] = {
    Role.OFFER: YACK,
    Role.FORMAT: STRT,
    Role.START: RETR,
    Role.FILE_HEADER: RETR,
    Role.DATA: RETR,
    Role.END_OF_FILE: RETR,
    Role.END_OF_FILES: WTRM,
    Role.TERM: None,
}


@dataclass(frozen=True)
class FileSlot:
    """Where one file sits in the sequence."""

    index: int
    header_seq: int
    chunks: int
    size: int
    bytes_before: int  # file bytes in all earlier files
    eof_seq: int  # the empty end-of-file frame: header_seq + chunks + 1


class SequencePlan:
    """Which server frame has which seq, for files of the given sizes."""

    __slots__ = ("_header_seqs", "chunk_size", "end_seq", "slots", "term_seq", "total_bytes")

    def __init__(self, sizes: Sequence[int], chunk_size: int = MAX_CHUNK) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK:
            raise ValueError(f"chunk size must be 1..{MAX_CHUNK}")
        self.chunk_size = chunk_size
        slots = []
        seq, before = FIRST_FILE_SEQ, 0
        for index, size in enumerate(sizes):
            chunks = -(-size // chunk_size)
            slots.append(FileSlot(index, seq, chunks, size, before, seq + chunks + 1))
            seq += chunks + 2  # header, chunks, end of file
            before += size
        self.slots: tuple[FileSlot, ...] = tuple(slots)
        self._header_seqs = [slot.header_seq for slot in slots]
        self.end_seq = seq  # FILE\n: no more files
        self.term_seq = seq + 1
        self.total_bytes = before

    @property
    def frame_count(self) -> int:
        """Server frames one session needs, OFFR to TERM."""
        return self.term_seq

    @property
    def fits_counter(self) -> bool:
        return self.term_seq <= COUNTER_LIMIT

    def slot_at(self, seq: int) -> FileSlot:
        """The file whose frames include ``seq`` (FIRST_FILE_SEQ <= seq < end_seq)."""
        return self.slots[bisect.bisect_right(self._header_seqs, seq) - 1]

    def locate(self, seq: int) -> tuple[Role, FileSlot | None]:
        """What server frame ``seq`` is, and the file it belongs to (if any)."""
        if seq == OFFER_SEQ:
            return Role.OFFER, None
        if seq == FORMAT_SEQ:
            return Role.FORMAT, None
        if seq == START_SEQ:
            return Role.START, None
        if seq == self.end_seq:
            return Role.END_OF_FILES, None
        if seq == self.term_seq:
            return Role.TERM, None
        if not FIRST_FILE_SEQ <= seq < self.end_seq:
            raise ValueError(f"seq {seq} is outside this plan (1..{self.term_seq})")
        slot = self.slot_at(seq)
        if seq == slot.header_seq:
            return Role.FILE_HEADER, slot
        return (Role.END_OF_FILE if seq == slot.eof_seq else Role.DATA), slot

    def reply(self, seq: int) -> bytes | None:
        """What the board answers to server frame ``seq``: ``REPLY`` of its role, without
        locating the file (every frame between start and end of files gets RETR)."""
        if seq == OFFER_SEQ:
            return REPLY[Role.OFFER]
        if seq == FORMAT_SEQ:
            return REPLY[Role.FORMAT]
        if seq == self.end_seq:
            return REPLY[Role.END_OF_FILES]
        if START_SEQ <= seq < self.end_seq:
            return RETR
        return REPLY[self.locate(seq)[0]]

    def chunk_start(self, slot: FileSlot, seq: int) -> int:
        """Offset in its file of the data that frame ``seq`` carries."""
        return (seq - slot.header_seq - 1) * self.chunk_size

    def bytes_acked(self, acked: int) -> int:
        """File bytes the board has confirmed once it acknowledged frame ``acked``."""
        if acked < FIRST_FILE_SEQ or not self.slots:
            return 0
        if acked >= self.end_seq:
            return self.total_bytes
        slot = self.slot_at(acked)
        chunks_done = min(max(acked - slot.header_seq, 0), slot.chunks)
        return slot.bytes_before + min(chunks_done * self.chunk_size, slot.size)


def frame_count(sizes: Sequence[int], chunk_size: int = MAX_CHUNK) -> int:
    """Server frames an install of files of these sizes needs (OFFR to TERM)."""
    return SequencePlan(sizes, chunk_size).frame_count
