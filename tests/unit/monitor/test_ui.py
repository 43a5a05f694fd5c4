"""The terminal's log lines: one per event, 10 % progress steps, keys hidden, levels."""

import logging

import pytest

from nitools.monitor.ui import LogReporter, make_reporter
from nitools.netinstall import events
from nitools.netinstall.messages import Announcement

MAC = bytes.fromhex("024e49000001")
BOARD = Announcement("ABCD-EFGH", "S2V5IGluIGNsZWFy", "RB5009", "arm64", "7.12", "7.16.1")


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.INFO, logger="nitools.flash")
    return caplog


def test_one_line_per_event_named_by_port_mac_and_model(lines):
    reporter = LogReporter()
    reporter.event(events.Found(0.0, MAC, BOARD, "eth1"))
    reporter.event(events.Formatting(1.0, MAC))
    reporter.event(events.FileStarted(2.0, MAC, "routeros-7.16.1-arm64.npk"))
    text = [r.getMessage() for r in lines.records]
    assert text[0].startswith("eth1 02:4e:49:00:00:01 (RB5009): found: ")
    assert "software-id ABCD-EFGH" in text[0] and "boot image 7.16.1" in text[0]
    assert text[2] == "eth1 02:4e:49:00:00:01 (RB5009): file: routeros-7.16.1-arm64.npk"


def test_the_licence_key_is_shown_only_when_asked_for(lines):
    LogReporter().event(events.Found(0.0, MAC, BOARD))
    LogReporter(log_keys=True).event(events.Found(0.0, MAC, BOARD))
    hidden, shown = (r.getMessage() for r in lines.records)
    assert BOARD.key not in hidden and f"key {BOARD.key}" in shown


def test_progress_logs_each_ten_percent_step_once_even_when_skipped_past(lines):
    reporter = LogReporter()
    for done in (50, 350, 360, 1000):
        reporter.event(events.Progress(0.0, MAC, done, 1000))
    steps = [r.getMessage().split(": ")[1] for r in lines.records]
    assert steps == [f"uploading {p}% of 1000 bytes" for p in range(10, 101, 10)]


def test_failures_are_errors_and_say_why(lines):
    reporter = LogReporter()
    reporter.event(events.Finished(1.0, MAC, events.Outcome.FAILED, "board stopped answering",
                                   events.FailureCause.STALLED))
    reporter.event(events.Finished(1.0, MAC, events.Outcome.UNCONFIRMED, "power-cycle it"))
    reporter.event(events.Finished(1.0, MAC, events.Outcome.REBOOTED, "confirmed",
                                   total_bytes=10, seconds=1.5, upload_rate=2e6))
    failed, unconfirmed, done = lines.records
    assert failed.levelno == logging.ERROR and failed.getMessage().endswith(
        "failed: board stopped answering")
    assert "reboot NOT confirmed: power-cycle it" in unconfirmed.getMessage()
    assert done.levelno == logging.INFO and "upload 2.0 MB/s" in done.getMessage()


def test_without_a_terminal_the_reporter_writes_plain_lines():
    assert type(make_reporter()) is LogReporter  # pytest's stderr is not a terminal
    assert type(make_reporter(force_plain=True)) is LogReporter


def test_an_install_the_station_stopped_says_interrupted_once(lines):
    LogReporter().event(events.Finished(1.0, MAC, events.Outcome.INTERRUPTED,
                                        "the station stopped mid-install",
                                        events.FailureCause.STATION_STOPPED))
    (line,) = lines.records
    assert line.getMessage().endswith(": interrupted: the station stopped mid-install")
