"""One tone per result, the terminal's table and the web view alike: verified green;
wrong-version, unverified, silent and failed red."""

import io

import pytest
from rich.console import Console

from nitools.monitor.board_table import BoardTable
from nitools.monitor.tones import BAD, GOOD, tone
from nitools.monitor.ui import live_table
from nitools.netinstall import events
from nitools.netinstall.messages import Announcement

MAC = bytes.fromhex("024e49000001")
BOARD = Announcement("ABCD-EFGH", "", "RB5009", "arm64", "7.12", "7.16.1")
GREEN, RED = "\x1b[32m", "\x1b[31m"


@pytest.mark.parametrize(("result", "expected"), [
    ("rebooted", GOOD), ("verified", GOOD),
    ("wrong-version", BAD), ("unverified", BAD), ("silent", BAD), ("failed", BAD),
    ("refused", BAD), ("unconfirmed", BAD), ("interrupted", BAD),
    ("released", ""), ("skipped", ""), ("", "")])
def test_each_result_has_its_tone(result, expected):
    assert tone(result) == expected


def in_service(outcome):
    table = BoardTable()
    table(events.Found(0.0, MAC, BOARD, "eth1"))
    table(events.Finished(1.0, MAC, events.Outcome.REBOOTED, "reboot confirmed"))
    table(events.InService(9.0, MAC, outcome, "what it announced"))
    return table.snapshot()[1]


def terminal_text(rows):
    console = Console(file=io.StringIO(), force_terminal=True, color_system="standard",
                      width=200)
    console.print(live_table(rows))
    return console.file.getvalue()


def test_the_board_table_carries_the_tone_the_terminal_shows():
    (verified,) = in_service(events.Outcome.VERIFIED)
    assert verified["tone"] == GOOD
    assert f"{GREEN}verified" in terminal_text([verified])
    (unverified,) = in_service(events.Outcome.UNVERIFIED)
    assert unverified["tone"] == BAD
    assert f"{RED}UNVERIFIED: what it announced" in terminal_text([unverified])


def test_the_web_page_colours_by_the_same_tones():
    from importlib import resources

    static = resources.files("nitools.monitor.web") / "static"
    css = (static / "style.css").read_text()
    script = (static / "app.js").read_text()
    for name in (GOOD, BAD):
        assert f".tone-{name} .result" in css
    assert script.count('" tone-" + (') == 2  # the boards and the history rows


def test_the_terminal_table_says_each_thing_once():
    """Issue 29 row 21: the result repeated the phase ('verified | verified'), ETA showed
    '0 s' mid-upload, and the 10 % lines scrolled above the live table."""
    (done,) = in_service(events.Outcome.VERIFIED)
    shown = terminal_text([done])
    assert shown.count("verified") == 1
    table = BoardTable()
    table(events.Found(0.0, MAC, BOARD, "eth1"))
    table(events.UploadStarted(10.0, MAC, 1000))
    table(events.Progress(12.0, MAC, 900, 1000))  # 0.2 s to go
    assert "<1 s" in terminal_text(table.snapshot()[1])


def test_a_terminal_gets_no_ten_percent_lines(caplog):
    import logging

    from nitools.monitor.ui import LogReporter, RichReporter

    progress = events.Progress(1.0, MAC, 500, 1000)
    with caplog.at_level(logging.INFO, logger="nitools.flash"):
        LogReporter().event(progress)
        assert "uploading 50%" in caplog.text
        caplog.clear()
        reporter = RichReporter.__new__(RichReporter)  # no live display on a test's stderr
        LogReporter.__init__(reporter)
        reporter.boards = BoardTable()
        reporter.event(progress)
    assert "uploading" not in caplog.text


def test_at_80_columns_the_live_table_keeps_the_mac_whole():
    """Issue 29 row 8: on an 80-column terminal the MAC was cut ('02…') and each row
    wrapped into many lines."""
    table = BoardTable()
    table(events.Found(0.0, MAC, BOARD, "eth1"))
    table(events.UploadStarted(10.0, MAC, 1000))
    console = Console(file=io.StringIO(), force_terminal=False, width=80)
    console.print(live_table(table.snapshot()[1], wide=False))
    shown = console.file.getvalue()
    assert "02:4e:49:00:00:01" in shown
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert len(shown.splitlines()) == 5  # the top, a header, a rule, one row, the bottom
