"""Kernel socket filters, attached to real sockets on loopback (no root needed)."""

import socket
import time

import pytest

from nitools.wire.link import LoopbackLink, local_admin_mac
from nitools.wire.socket_filter import MOST_MACS, attach, udp_mac_filter

OURS, THEIRS = local_admin_mac(1), local_admin_mac(2)


def _received(sock: socket.socket, expected: int) -> list[bytes]:
    """What arrives within half a second, or as soon as ``expected`` datagrams have."""
    sock.settimeout(0.05)
    got: list[bytes] = []
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline and len(got) < expected + 1:
        try:
            got.append(sock.recv(100))
        except TimeoutError:
            if len(got) >= expected:
                break
    return got


def test_a_udp_socket_filtered_on_a_mac_never_receives_datagrams_starting_with_it():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        attach(sock, udp_mac_filter(0, [OURS], keep=False))
        address = sock.getsockname()
        sock.sendto(OURS + b"dropped", address)
        sock.sendto(THEIRS + b"kept", address)
        sock.sendto(OURS[:5] + b"\x00kept too: one byte differs", address)
        sock.sendto(OURS[:5], address)  # shorter than a MAC: no frame, but it comes up
        assert _received(sock, 3) == [THEIRS + b"kept",
                                      OURS[:5] + b"\x00kept too: one byte differs", OURS[:5]]


def test_a_link_drops_frames_from_its_own_mac_and_keeps_the_peers():
    link = LoopbackLink(0, 0, OURS)
    try:
        link.peer = link.sock.getsockname()  # sending to itself, as a broadcast comes back
        link.drop_own_echoes()
        link.send(OURS + bytes(14))
        link.send(THEIRS + bytes(14))
        assert _received(link.sock, 1) == [THEIRS + bytes(14)]
    finally:
        link.close()


@pytest.mark.parametrize("boards", [1, 5, MOST_MACS])
def test_a_socket_keeping_frames_for_some_macs_receives_only_those(boards):
    macs = [local_admin_mac(10 + n) for n in range(boards)]
    wanted = sorted({macs[0], macs[-1], macs[len(macs) // 2]})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        attach(sock, udp_mac_filter(6, macs, keep=True))
        address = sock.getsockname()
        for n, mac in enumerate([*wanted, THEIRS, macs[0][:5] + b"\xff"]):
            sock.sendto(OURS + mac + bytes([n]) * 8, address)  # sender, recipient, ...
        sock.sendto(OURS + macs[0][:3], address)  # too short to name a recipient
        assert _received(sock, len(wanted) + 1) == [
            OURS + mac + bytes([n]) * 8 for n, mac in enumerate(wanted)] + [OURS + macs[0][:3]]


def test_a_filter_compares_whole_macs_and_not_too_many():
    with pytest.raises(ValueError, match="6 bytes"):
        udp_mac_filter(0, [b"\x02"], keep=False)
    with pytest.raises(ValueError, match=f"1 to {MOST_MACS}"):
        udp_mac_filter(6, [local_admin_mac(n) for n in range(MOST_MACS + 1)], keep=True)
    with pytest.raises(ValueError, match=f"1 to {MOST_MACS}"):
        udp_mac_filter(6, [], keep=True)


def test_a_link_keeps_only_frames_for_its_boards_unless_there_are_too_many_to_filter():
    boards = [local_admin_mac(20 + n) for n in range(3)]
    link = LoopbackLink(0, 0, THEIRS)
    try:
        link.peer = link.sock.getsockname()
        assert not link.keep_only_frames_for([local_admin_mac(n) for n in range(MOST_MACS + 1)])
        assert link.keep_only_frames_for(boards)
        link.send(OURS + THEIRS + bytes(8))  # for another board
        link.send(OURS + boards[2] + bytes(8))
        assert _received(link.sock, 1) == [OURS + boards[2] + bytes(8)]
    finally:
        link.close()
