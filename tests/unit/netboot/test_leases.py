"""The lease keeper: the addresses of boards the station is done with go back to dnsmasq
(the real dnsmasq frees them: tests/lab/test_station_cmd_lab.py, 300 boards)."""

import logging
import socket

from nitools.netboot.leases import LeaseKeeper, release_message
from nitools.netinstall import events
from nitools.netinstall.events import NetbootKind
from nitools.netinstall.messages import Announcement

BOARD = bytes.fromhex("024e49000001")
OTHER_PORT = bytes.fromhex("024e49000002")
ANNOUNCED = Announcement("ABCD-EFGH", "", "RB5009", "arm64", "7.12", "7.16.1")


def keeper():
    sent = []
    kept = LeaseKeeper({"fl0": "192.0.2.1"}, {"fl0": 127}, announce_timeout=90.0,
                       send=lambda port, datagram, server: sent.append((port, datagram, server)))
    return kept, sent


def dhcp(mac, address, at=0.0, port="fl0"):
    return events.Netboot(at, mac, NetbootKind.DHCP, f"vendor class ARM64__boot, address "
                          f"{address}", port, address)


def test_a_release_names_the_address_the_board_and_the_server():
    message = release_message(BOARD, "192.0.2.130", "192.0.2.1")
    assert message[0] == 1 and message[12:16] == socket.inet_aton("192.0.2.130")  # ciaddr
    assert message[28:34] == BOARD  # chaddr
    options = message[236:]
    assert options.startswith(bytes([99, 130, 83, 99, 53, 1, 7]))  # DHCPRELEASE
    assert bytes([54, 4]) + socket.inet_aton("192.0.2.1") in options  # server identifier


def test_a_finished_board_gives_back_the_lease_of_each_of_its_ports():
    kept, sent = keeper()
    kept(dhcp(BOARD, "192.0.2.130"))
    kept(dhcp(OTHER_PORT, "192.0.2.131"))
    kept(events.Found(1.0, BOARD, ANNOUNCED, "fl0"))
    assert sent == []  # installing: it keeps its address
    kept(events.Finished(30.0, BOARD, events.Outcome.FAILED, "stalled",
                         events.FailureCause.STALLED, macs=(BOARD, OTHER_PORT)))
    assert [(port, datagram[12:16], server) for port, datagram, server in sent] == [
        ("fl0", socket.inet_aton("192.0.2.130"), "192.0.2.1"),
        ("fl0", socket.inet_aton("192.0.2.131"), "192.0.2.1")]
    kept(events.Finished(31.0, BOARD, events.Outcome.FAILED, "again"))
    assert len(sent) == 2 and kept.released == 2  # given back once


def test_a_silent_board_and_one_that_never_announced_give_theirs_back():
    kept, sent = keeper()
    kept(dhcp(BOARD, "192.0.2.130", at=0.0))
    kept(events.Silent(90.0, BOARD, "never announced", events.FailureCause.NEVER_ANNOUNCED))
    assert len(sent) == 1
    kept(dhcp(OTHER_PORT, "192.0.2.131", at=100.0))  # got an address, never announced
    kept(dhcp(bytes.fromhex("024e49000003"), "192.0.2.132", at=150.0))
    assert len(sent) == 1  # not yet 90 s
    kept(events.Netboot(191.0, bytes.fromhex("024e49000004"), NetbootKind.TFTP, "x", "fl0"))
    assert [datagram[28:34] for _, datagram, _ in sent[1:]] == [OTHER_PORT]


def test_an_announced_board_keeps_its_address_past_the_announce_timeout():
    kept, sent = keeper()
    kept(dhcp(BOARD, "192.0.2.130", at=0.0))
    kept(events.Found(1.0, BOARD, ANNOUNCED, "fl0"))
    kept(events.Netboot(500.0, OTHER_PORT, NetbootKind.NO_ADDRESS, "full", "fl0"))
    assert sent == []


def test_a_full_range_is_said_once_per_port_with_what_to_do(caplog):
    kept, _ = keeper()
    caplog.set_level(logging.ERROR, logger="nitools.netboot")
    for index in range(3):
        kept(events.Netboot(float(index), bytes([2, 0, 0, 0, 0, index]),
                            NetbootKind.NO_ADDRESS, "full", "fl0"))
    (record,) = caplog.records
    assert "fl0: the address range is full (127 addresses" in record.getMessage()
    assert "--range START,END" in record.getMessage()


def test_a_failed_send_keeps_the_station_going(caplog):
    def refuse(port, datagram, server):
        raise OSError(101, "Network is unreachable")

    kept = LeaseKeeper({"fl0": "192.0.2.1"}, {"fl0": 127}, 90.0, send=refuse)
    kept(dhcp(BOARD, "192.0.2.130"))
    kept(events.Silent(90.0, BOARD, "never announced", events.FailureCause.NEVER_ANNOUNCED))
    assert kept.released == 0 and "cannot give back 192.0.2.130" in caplog.text
