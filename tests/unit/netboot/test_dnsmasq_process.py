"""dnsmasq's lines in nitools' log (issue 29 row 3): its option lines were at INFO, 4 to 18
a board, and the boot image sent at DEBUG; now one INFO line per board."""

import logging

from nitools.monitor.ui import LogReporter
from nitools.netboot.dnsmasq_log import DnsmasqLogReader
from nitools.netboot.dnsmasq_process import _relay
from nitools.netinstall import events
from tests.unit.netboot.test_dnsmasq_log import BOOT

LINES = [*BOOT.splitlines()[:5],  # dnsmasq 2.90's lines for one board (its log reader's)
         "dnsmasq-dhcp[5316]: 2104718558 sent size:  4 option:  1 netmask  255.255.255.0",
         "dnsmasq-dhcp[5316]: 2104718558 sent size:  4 option: 28 broadcast  192.0.2.255",
         BOOT.splitlines()[-1],
         "dnsmasq-tftp[5316]: failed sending /tmp/x/netinstall.mipsbe to 192.0.2.214"]


def relayed(caplog, boards_said_elsewhere):
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="nitools.dnsmasq"):
        for line in LINES:
            _relay(line, boards_said_elsewhere)
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno > logging.DEBUG]


def test_nitools_dnsmasq_run_shows_what_it_did_for_each_board_not_its_options(caplog):
    shown = relayed(caplog, boards_said_elsewhere=False)
    assert [level for level, _ in shown] == ["INFO", "INFO", "INFO", "WARNING"]
    assert "vendor class: ARM64__boot" in shown[0][1]
    assert "netinstall.arm64 to 192.0.2.213" in shown[2][1]
    assert not any("option" in text for _, text in shown)


def test_the_station_says_one_line_per_board_and_dnsmasqs_go_to_debug(caplog):
    shown = relayed(caplog, boards_said_elsewhere=True)
    assert [level for level, _ in shown] == ["WARNING"]  # a failure is still said
    reader = DnsmasqLogReader(("ARM64__boot",))
    caplog.clear()
    reporter = LogReporter()
    with caplog.at_level(logging.INFO, logger="nitools.flash"):
        for number, line in enumerate(LINES[:-1]):
            for seen in reader.feed(line, float(number)):
                reporter.event(events.Netboot(seen.at, seen.mac, seen.kind, seen.detail,
                                              seen.port, seen.address))
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == ("fl0 02:4e:49:05:10:01 (board): boot image netinstall.arm64 sent over "
                    "TFTP (vendor class ARM64__boot, address 192.0.2.213)")
