"""Classic BPF programs attached to a socket (SO_ATTACH_FILTER): what the kernel drops
before it ever wakes us. One place builds ``struct sock_fprog``; the modules that filter
say what in their own words.

An instruction is (code, jump if true, jump if false, constant), as in
``linux/filter.h``. Attaching needs no privilege: a socket may filter what it receives.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from collections.abc import Collection

SO_ATTACH_FILTER = 26

Instruction = tuple[int, int, int, int]

# The opcodes used here (linux/bpf_common.h combinations).
LOAD_LENGTH = 0x80  # ld len: the packet's length
LOAD_WORD = 0x20  # ld [k]
LOAD_HALF = 0x28  # ldh [k]
LOAD_BYTE = 0x30  # ldb [k]
LOAD_HEADER_LENGTH = 0xB1  # ldxb 4*([k]&0xf)
LOAD_HALF_AT_X = 0x48  # ldh [x+k]
JUMP_IF_EQUAL = 0x15  # jeq #k
JUMP_IF_AT_LEAST = 0x35  # jge #k
JUMP_IF_ANY_BIT = 0x45  # jset #k
RETURN = 0x06  # ret #k: 0 drops, anything else keeps that many bytes
KEEP = (RETURN, 0, 0, 0xFFFF)
DROP = (RETURN, 0, 0, 0)


def attach(sock: socket.socket, program: list[Instruction]) -> None:
    """Attach ``program`` to ``sock``. The kernel copies the instructions, so the buffer
    need live only for this call."""
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code, len(code))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                    struct.pack("HL", len(program), ctypes.addressof(buffer)))


UDP_HEADER = 8  # on a UDP socket the program sees the UDP header first
MOST_MACS = 60  # a longer list would need jumps past the 8-bit offsets of classic BPF


def udp_mac_filter(offset: int, macs: Collection[bytes], keep: bool) -> list[Instruction]:
    """A program for a UDP socket that looks at the six payload bytes at ``offset`` (a
    frame's sender MAC is at 0, its recipient at 6): datagrams where they are one of
    ``macs`` are kept (``keep``) or dropped (not ``keep``), all others the opposite.
    Datagrams too short to hold them always come up, to be told malformed."""
    if not 1 <= len(macs) <= MOST_MACS:
        raise ValueError(f"a filter compares 1 to {MOST_MACS} MAC addresses")
    if any(len(mac) != 6 for mac in macs):
        raise ValueError("a MAC address is 6 bytes")
    at = UDP_HEADER + offset
    matched, unmatched = (KEEP, DROP) if keep else (DROP, KEEP)
    count = len(macs)
    # Laid out as: length check, four instructions per MAC, ``unmatched``, ``matched``.
    short_to_keep = 4 * count + (1 if keep else 0)
    program: list[Instruction] = [
        (LOAD_LENGTH, 0, 0, 0),
        (JUMP_IF_AT_LEAST, 0, short_to_keep, at + 6),
    ]
    for index, mac in enumerate(sorted(macs)):
        to_matched = 4 * (count - index - 1) + 1  # past the other MACs and ``unmatched``
        program += [
            (LOAD_WORD, 0, 0, at),
            (JUMP_IF_EQUAL, 0, 2, int.from_bytes(mac[:4], "big")),  # no: the next MAC
            (LOAD_HALF, 0, 0, at + 4),
            (JUMP_IF_EQUAL, to_matched, 0, int.from_bytes(mac[4:], "big")),
        ]
    return [*program, unmatched, matched]
