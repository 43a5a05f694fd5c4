"""netinstall-cli's command line on `nitools flash`, over real broadcast between
namespaces: packages as arguments, -s, keep by default, -r -m -o with two boards."""

from __future__ import annotations

import hashlib
import time

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import FLASHER_IF
from tests.lab.stations import Station

pytestmark = pytest.mark.lab


@pytest.fixture
def files(tmp_path):
    (tmp_path / "routeros-7.16.1-arm64.npk").write_bytes(
        build_npk("system", "7.16.1", "arm64", size=200_000, seed=1))
    (tmp_path / "container-7.16.1-arm64.npk").write_bytes(
        build_npk("container", "7.16.1", "arm64", size=30_000, seed=2,
                  requires=("system", "7.16.1")))
    (tmp_path / "first-boot.rsc").write_bytes(b":delay 5s\n/system identity set name=cli\n")
    return tmp_path


def flash(station: Station, *args: str):
    return station.pair.start(station.pair.flasher_ns, "flash", "--plain", "-i", FLASHER_IF,
                              "--journal", str(station.journal), *args)


def received(board: dict) -> dict[str, str]:
    return {f["name"]: f["sha256"] for f in board["files"]}


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_s_with_two_packages(station, files):
    station.emulate("--seed", "41")
    process = flash(station, "-s", str(files / "first-boot.rsc"),
                    str(files / "routeros-7.16.1-arm64.npk"),
                    str(files / "container-7.16.1-arm64.npk"))
    _, log = process.communicate(timeout=40)
    (board,) = station.summaries()
    assert process.returncode == 0, log
    assert received(board) == {name: sha(files / name) for name in (
        "routeros-7.16.1-arm64.npk", "container-7.16.1-arm64.npk")} | {
        "autorun.scr": sha(files / "first-boot.rsc")}
    assert not board["keep_config"]


def test_neither_r_nor_e_keeps_the_old_configuration(station, files):
    station.emulate("--seed", "42")
    process = flash(station, str(files / "routeros-7.16.1-arm64.npk"))
    _, log = process.communicate(timeout=40)
    (board,) = station.summaries()
    assert process.returncode == 0, log
    assert board["keep_config"] and list(received(board)) == ["routeros-7.16.1-arm64.npk"]
    assert [r["config_mode"] for r in station.rows()] == ["keep"]


def test_r_m_o_with_two_boards(station, files):
    station.emulate("--seed", "43", "--boards", "2")
    process = flash(station, "-r", "-m", "-o", str(files / "routeros-7.16.1-arm64.npk"))
    boards = station.summaries(timeout=60)  # the emulator ends when both have rebooted
    deadline = time.monotonic() + 20
    while sum(r["outcome"] == "rebooted" for r in station.rows()) < 2:
        assert time.monotonic() < deadline, station.rows()
        time.sleep(0.1)
    assert process.poll() is None  # -m: still serving
    process.terminate()
    _, log = process.communicate(timeout=30)
    assert process.returncode == 0, log
    assert all(b["installed"] and not b["keep_config"] and not b["files"][1:] for b in boards)
    assert [r["config_mode"] for r in station.rows()] == ["default", "default"]
