"""Flasher and emulated board in two network namespaces: real UDP broadcast over veth."""

import hashlib
import json
import textwrap

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import BOARD_IF, FLASHER_IF

pytestmark = pytest.mark.lab
MiB = 1024 * 1024


@pytest.fixture
def station_files(tmp_path):
    system = tmp_path / "routeros-7.16.1-arm64.npk"
    system.write_bytes(build_npk("system", "7.16.1", "arm64", size=6 * MiB, seed=1))
    extra = tmp_path / "container-7.16.1-arm64.npk"
    extra.write_bytes(build_npk("container", "7.16.1", "arm64", size=200_000, seed=2,
                                requires=("system", "7.16.1")))
    script = tmp_path / "first-boot.rsc"
    script.write_bytes(b":delay 5s\n/system identity set name=lab-board\n")
    ini = tmp_path / "station.ini"
    ini.write_text(textwrap.dedent(f"""
        [pynetinstall]
        firmware={system}
        config={script}
        additional_packages=
            {extra}
        """))
    return {"ini": ini, "routeros-7.16.1-arm64.npk": system,
            "container-7.16.1-arm64.npk": extra, "autorun.scr": script}


def flash_against_emulator(pair, files, tmp_path, emulate_args=(), interface=FLASHER_IF):
    out = tmp_path / "received"
    board = pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--out", str(out),
                       "--timeout", "90", "--format-time", "0.5", *emulate_args)
    flasher = pair.start(pair.flasher_ns, "flash", "-1", "--plain", "-c", str(files["ini"]),
                         "-i", interface)
    _, flash_log = flasher.communicate(timeout=120)
    summary_text, board_log = board.communicate(timeout=120)
    assert flasher.returncode == 0, flash_log
    assert board.returncode == 0, board_log
    summary = json.loads(summary_text)
    (board_summary,) = summary["boards"]
    folder = out / board_summary["macs"][0].replace(":", "-")
    return summary, board_summary, folder, flash_log


def assert_identical(folder, files):
    names = ["routeros-7.16.1-arm64.npk", "container-7.16.1-arm64.npk", "autorun.scr"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    for name in names:
        assert hashlib.sha256((folder / name).read_bytes()).digest() == \
            hashlib.sha256(files[name].read_bytes()).digest(), name


def test_flash_over_real_broadcast_is_byte_identical(netns_pair, station_files, tmp_path):
    _, board, folder, log = flash_against_emulator(netns_pair, station_files, tmp_path)
    assert board["installed"] and board["licence_key_installed"]
    assert_identical(folder, station_files)
    assert "installed" in log


def test_flash_with_two_percent_frame_loss(netns_pair, station_files, tmp_path):
    summary, board, folder, _ = flash_against_emulator(
        netns_pair, station_files, tmp_path, ("--drop", "0.02", "--seed", "5"))
    assert summary["frames_dropped"] > 50
    assert board["installed"]
    assert_identical(folder, station_files)


def test_interface_given_by_mac_and_v6_board(netns_pair, station_files, tmp_path):
    mac = netns_pair.mac(netns_pair.flasher_ns, FLASHER_IF)
    _, board, folder, _ = flash_against_emulator(
        netns_pair, station_files, tmp_path, ("--v6", "--no-key"), interface=mac)
    assert board["installed"]
    assert_identical(folder, station_files)


def test_an_interface_removed_and_added_again_stops_the_station_saying_so(netns_pair,
                                                                          station_files,
                                                                          tmp_path):
    import subprocess
    import time

    pair = netns_pair
    flash = pair.start(pair.flasher_ns, "flash", "--plain", "-m", "-c",
                       str(station_files["ini"]), "-i", FLASHER_IF, "--journal",
                       str(tmp_path / "j.sqlite3"))
    deadline = time.monotonic() + 20
    while "listening on interface" not in (line := flash.stderr.readline()):
        assert line and time.monotonic() < deadline, line
    subprocess.run(["ip", "-n", pair.flasher_ns, "link", "del", FLASHER_IF], check=True)
    subprocess.run(["ip", "-n", pair.flasher_ns, "link", "add", FLASHER_IF, "type", "veth",
                    "peer", "name", BOARD_IF, "netns", pair.board_ns], check=True)
    _, rest = flash.communicate(timeout=20)
    assert flash.returncode == 1, rest
    assert rest.strip().splitlines()[-1] == (
        f"nitools: error: interface {FLASHER_IF} was removed and added again: the station "
        "stops (start it again to listen on the new one)")
