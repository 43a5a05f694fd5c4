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


def drop_udp_payload_prefix(prefix: bytes) -> list[Instruction]:
    """A program for a UDP socket that drops every datagram whose payload starts with the
    six bytes ``prefix`` (on a UDP socket the program sees the UDP header first: the
    payload starts at byte 8). Shorter datagrams always come up, to be told malformed."""
    if len(prefix) != 6:
        raise ValueError("the prefix is a MAC address: 6 bytes")
    return [
        (LOAD_LENGTH, 0, 0, 0),
        (JUMP_IF_AT_LEAST, 0, 5, 8 + 6),  # shorter: keep
        (LOAD_WORD, 0, 0, 8),
        (JUMP_IF_EQUAL, 0, 3, int.from_bytes(prefix[:4], "big")),
        (LOAD_HALF, 0, 0, 12),
        (JUMP_IF_EQUAL, 0, 1, int.from_bytes(prefix[4:], "big")),
        DROP,
        KEEP,
    ]
