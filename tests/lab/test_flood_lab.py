"""Strangers on the wire in the namespace lab, with real broadcast: a board's software ID
announced from new MACs ten times a second (issue 27 row 4), and a flood of doubled
announcements from new MACs (row 5). The real board must be found and installed at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from nitools.emulation.emulator import BoardSpec, make_boards
from nitools.emulation.synthetic import build_npk
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO
from tests.lab.stations import ini

pytestmark = pytest.mark.lab
REAL = make_boards(BoardSpec(), 1, seed=65)[0].announcement  # `nitools emulate --seed 65`


def flooded(station, tmp_path, kind: str, rate: int) -> tuple[float, str, list[dict]]:
    pair = station.pair
    package = tmp_path / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=150_000, seed=65))
    flash = station.flash(ini(tmp_path, f"[nitools]\nfirmware={package}\n"), "-1")
    station_mac = pair.mac(pair.flasher_ns, FLASHER_IF).replace(":", "")
    flooder = subprocess.Popen(
        ["ip", "netns", "exec", pair.board_ns, sys.executable, "-m", "tests.lab.flooder",
         BOARD_IF, station_mac, str(rate), "15", kind, REAL.software_id],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    pair.processes.append(flooder)  # stopped with the namespaces, also on failure
    time.sleep(3.0)  # the flood is on
    started = time.monotonic()
    station.emulate("--seed", "65")
    _, log = flash.communicate(timeout=60)
    took = time.monotonic() - started
    assert json.loads(flooder.communicate(timeout=30)[0])["sent"] > 0
    assert flash.returncode == 0, log[-3000:]
    return took, log, station.rows()


def test_a_squatter_on_the_boards_software_id_keeps_it_from_nothing(station, tmp_path):
    took, log, rows = flooded(station, tmp_path, "squat", 10)
    (real,) = [row for row in rows if row["outcome"] == "rebooted"]
    assert real["software_id"] == REAL.software_id and took < 10, log[-3000:]
    assert all(row["macs"] == row["answered_mac"] for row in rows if row is not real)


def test_a_steady_board_is_found_at_once_under_doubled_announcements(station, tmp_path):
    took, log, rows = flooded(station, tmp_path, "double", 3000)
    assert [row["software_id"] for row in rows if row["outcome"] == "rebooted"] == [
        REAL.software_id]
    assert took < 10, log[-3000:]
