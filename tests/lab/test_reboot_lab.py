"""Every board rebooted, every record true: lost TERMs, a station killed while boards
wait for TERM, and what the journal then says (real broadcast between namespaces)."""

from __future__ import annotations

import signal
import time

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.stations import ini

pytestmark = pytest.mark.lab


@pytest.fixture
def config(tmp_path):
    package = tmp_path / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=300_000, seed=5))
    return ini(tmp_path, f"[nitools]\nfirmware={package}\n")


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_lost_terms_for_seconds_and_one_shot_still_ends_with_the_board_rebooted(
        station, config):
    station.emulate("--seed", "31", "--term-loss", "4.5", timeout=40)
    flash = station.flash(config, "-1")
    _, log = flash.communicate(timeout=40)
    (board,) = station.summaries()
    assert flash.returncode == 0, log
    assert board["state"] == "rebooted" and board["offers_seen"] == 1
    (row,) = station.rows()
    assert row["outcome"] == "rebooted" and "reboot confirmed" in row["reason"]
    assert row["duration"] > 4.5  # it waited for the board, not for a timer of its own
    assert "installed and rebooted" in log


def test_reboot_not_confirmed_within_the_timeout_is_said_and_exits_non_zero(station, config):
    station.emulate("--seed", "32", "--term-loss", "600", timeout=40)
    flash = station.flash(config, "-1", "--reboot-timeout", "3")
    _, log = flash.communicate(timeout=40)
    assert flash.returncode == 1, log
    (row,) = station.rows()
    assert row["outcome"] == "unconfirmed" and "power-cycle" in row["reason"]
    assert "reboot not confirmed: power-cycle" in log


def test_a_station_killed_with_a_board_in_wtrm_is_replaced_by_one_that_releases_it(
        station, config):
    # The board loses every TERM for 8 s after its first WTRM: the first station is
    # killed while the board waits; the next one must answer it and never offer again.
    station.emulate("--seed", "33", "--term-loss", "8", timeout=60)
    first = station.flash(config)
    wait_for(lambda: any(r["outcome"] == "installing" for r in station.rows()), 20,
             "the board was never offered")
    time.sleep(2.5)  # format 0.2 s and 300 kB: the board has sent WTRM by now
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    second = station.flash(config)
    (board,) = station.summaries(timeout=60)  # the emulator ends once its board rebooted
    second.send_signal(signal.SIGTERM)
    _, log = second.communicate(timeout=30)
    assert second.returncode == 0, log
    assert board["state"] == "rebooted" and board["offers_seen"] == 1
    outcomes = [r["outcome"] for r in station.rows()]
    assert outcomes == ["interrupted", "released"], outcomes
    assert "released: board waiting for reboot answered" in log

