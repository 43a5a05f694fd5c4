"""PortGroup: several links as one, each board tied to the port it announced on
(over real UDP sockets on 127.0.0.1)."""

from __future__ import annotations

import select
import socket

from nitools.netinstall.frame import Frame
from nitools.wire.link import LoopbackLink, local_admin_mac
from nitools.wire.ports import REBIND_AFTER, PortGroup

STATION = local_admin_mac(1)
BOARD = local_admin_mac(2)
OTHER = local_admin_mac(3)


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def board_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    return sock


def setup():
    boards = {"eth1": board_socket(), "eth2": board_socket()}
    links = {name: LoopbackLink(0, sock.getsockname()[1], STATION)
             for name, sock in boards.items()}
    clock = Clock()
    return PortGroup(links, clock), links, boards, clock


def frame(src: bytes, dst: bytes, payload: bytes = b"DSCV") -> bytes:
    return Frame(src, dst, 0, 0, payload).to_bytes()


def arrive(group, links, boards, port: str, data: bytes):
    boards[port].sendto(data, links[port].sock.getsockname())
    select.select([group.fileno()], [], [], 1)  # the group's descriptor wakes up
    return group.receive()


def got(sock) -> bytes | None:
    try:
        return sock.recv(2048)
    except TimeoutError:
        return None


def test_a_board_is_answered_on_its_own_port_only():
    group, links, boards, _ = setup()
    (datagram,) = arrive(group, links, boards, "eth2", frame(BOARD, bytes(6)))
    assert datagram[2] == "eth2"  # the port it arrived on travels with it
    group.send(frame(STATION, BOARD, b"OFFR"))
    assert got(boards["eth2"]) == frame(STATION, BOARD, b"OFFR")
    assert got(boards["eth1"]) is None
    group.send(frame(STATION, OTHER, b"OFFR"))  # never heard: every port
    assert got(boards["eth1"]) and got(boards["eth2"])
    group.close()


def test_its_mac_on_another_port_is_dropped_until_it_has_been_silent():
    group, links, boards, clock = setup()
    arrive(group, links, boards, "eth1", frame(BOARD, bytes(6)))
    assert arrive(group, links, boards, "eth2", frame(BOARD, bytes(6), b"FORGED")) == []
    assert group.foreign_port_drops == 1
    group.send(frame(STATION, BOARD, b"OFFR"))  # still answered on its first port only
    assert got(boards["eth1"]) and got(boards["eth2"]) is None
    clock.now += REBIND_AFTER + 1  # the board was moved to the other port
    (datagram,) = arrive(group, links, boards, "eth2", frame(BOARD, bytes(6)))
    assert datagram[2] == "eth2"
    group.send(frame(STATION, BOARD, b"OFFR"))
    assert got(boards["eth2"]) and got(boards["eth1"]) is None
    group.close()


def test_our_own_broadcasts_heard_back_bind_nothing():
    group, links, boards, _ = setup()
    arrive(group, links, boards, "eth1", frame(STATION, BOARD))
    group.send(frame(BOARD, STATION, b"X"))  # a frame for our own MAC: no port is bound
    assert got(boards["eth1"]) and got(boards["eth2"])
    group.close()
