"""Several flashing ports served by one station process over real broadcast: each
board is tied to the port it announced on, gets that port's files, and the journal
names the port."""

from __future__ import annotations

import hashlib

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import FLASHER_IF
from tests.lab.stations import ini

pytestmark = pytest.mark.lab


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_ports_one_station_each_board_gets_its_ports_files(station, tmp_path):
    pair = station.pair
    pair.add_port("fl1", "bd1")
    (tmp_path / "routeros-7.16.1-arm64.npk").write_bytes(
        build_npk("system", "7.16.1", "arm64", size=150_000, seed=71))
    (tmp_path / "routeros-7.16.1-arm.npk").write_bytes(
        build_npk("system", "7.16.1", "arm", size=120_000, seed=72))
    (tmp_path / "line2.rsc").write_text("/system identity set name=line2\n")
    config = ini(tmp_path, f"""\
        [nitools]
        firmware = {tmp_path}/routeros-7.16.1-arm64.npk

        [port:fl1]
        firmware = {tmp_path}/routeros-7.16.1-arm.npk
        config = {tmp_path}/line2.rsc
        """)
    station.emulate("--seed", "71", "--arch", "arm64")
    station.emulators.append(pair.start(pair.board_ns, "emulate", "-i", "bd1", "--timeout",
                                        "40", "--format-time", "0.2", "--seed", "72",
                                        "--arch", "arm"))
    flash = pair.start(pair.flasher_ns, "flash", "--plain", "-c", str(config), "-i",
                       FLASHER_IF, "-i", "fl1", "--journal", str(station.journal),
                       "--count", "2")
    _, log = flash.communicate(timeout=60)
    assert flash.returncode == 0, log
    first, second = station.summaries()
    assert {f["name"]: f["sha256"] for f in first["files"]} == {
        "routeros-7.16.1-arm64.npk": sha(tmp_path / "routeros-7.16.1-arm64.npk")}
    assert {f["name"]: f["sha256"] for f in second["files"]} == {
        "routeros-7.16.1-arm.npk": sha(tmp_path / "routeros-7.16.1-arm.npk"),
        "autorun.scr": sha(tmp_path / "line2.rsc")}
    rows = {row["arch"]: row for row in station.rows()}
    assert (rows["arm64"]["port"], rows["arm"]["port"]) == (FLASHER_IF, "fl1")
    assert {row["outcome"] for row in rows.values()} == {"rebooted"}
    assert f"{FLASHER_IF} {first['answered_mac']}" in log and \
        f"fl1 {second['answered_mac']}" in log
    assert "interfaces fl0, fl1" in log
