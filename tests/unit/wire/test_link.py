"""Links: UDP on loopback (no root), the in-memory segment, and their error messages."""

import socket

import pytest

from nitools.errors import LinkError
from nitools.wire.link import (
    LoopbackLink,
    MemoryNetwork,
    local_admin_mac,
    parse_loopback,
    resolve_interface,
)
from nitools.wire.runner import VirtualClock


def test_two_loopback_links_exchange_datagrams_with_their_source_port():
    first = LoopbackLink(0, 0, local_admin_mac(1))
    second = LoopbackLink(0, first.sock.getsockname()[1], local_admin_mac(2))
    first.peer = ("127.0.0.1", second.sock.getsockname()[1])
    try:
        first.send(b"hello")
        second.send(b"back")
        for _ in range(100):
            got_second, got_first = second.receive(), first.receive()
            if got_second or got_first:
                break
        received = got_second or second.receive()
        answered = got_first or first.receive()
        # loopback has no interface: no port name comes with a datagram
        assert received == [(b"hello", first.sock.getsockname()[1], None)]
        assert answered == [(b"back", second.sock.getsockname()[1], None)]
        assert first.receive() == []  # nothing more waiting: never blocks
    finally:
        first.close()
        second.close()


def test_a_loopback_link_binds_loopback_only():
    link = LoopbackLink(0, 9, local_admin_mac(1))
    try:
        assert link.sock.getsockname()[0] == "127.0.0.1"
        assert link.peer_port == 9 and link.describe().startswith("loopback 127.0.0.1:")
    finally:
        link.close()


def test_a_taken_loopback_port_is_a_link_error():
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(LinkError, match=r"cannot open UDP 127\.0\.0\.1"):
            LoopbackLink(taken.getsockname()[1], 9, local_admin_mac(1))
    finally:
        taken.close()


@pytest.mark.parametrize(("spec", "message"), [
    ("5000", "LOCAL_PORT:PEER_PORT"), ("a:b", "LOCAL_PORT:PEER_PORT"),
    ("0:5000", "1..65535"), ("5000:70000", "1..65535"),
])
def test_bad_loopback_specs_say_what_is_wanted(spec, message):
    with pytest.raises(LinkError, match=message):
        parse_loopback(spec)
    assert parse_loopback("15000:15001") == (15000, 15001)


def test_emulated_macs_are_locally_administered_unicast():
    mac = local_admin_mac(0xABCDEF)
    assert mac[0] & 0x02 and not mac[0] & 0x01 and mac[3:] == bytes.fromhex("abcdef")


def test_an_unknown_interface_or_mac_says_how_to_find_the_right_one():
    with pytest.raises(LinkError, match="ip link"):
        resolve_interface("no-such-if0")
    with pytest.raises(LinkError, match="ip link"):
        resolve_interface("02:00:5e:00:53:99")


def test_the_memory_segment_delivers_to_everyone_else_after_its_delay():
    clock = VirtualClock()
    network = MemoryNetwork(clock, delay=0.5)
    a, b, c = (network.link(local_admin_mac(n)) for n in range(3))
    a.send(b"x")
    network.deliver(0.4)
    assert b.receive() == [] and c.receive() == []
    network.deliver(0.5)
    assert b.receive() == [(b"x", 5000, None)] and c.receive() == [(b"x", 5000, None)]
    assert a.receive() == []  # a sender does not hear itself
