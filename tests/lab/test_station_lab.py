"""The production station over real broadcast between namespaces: many boards, every
configuration outcome, policies, faults, signals, and the journal after each."""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import textwrap
import time
from pathlib import Path

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.stations import ini

pytestmark = pytest.mark.lab
KEY = base64.b64encode(bytes(range(64))).decode()


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    for arch, seed in (("arm64", 1), ("arm", 2), ("mipsbe", 3)):
        (folder / f"routeros-7.16.1-{arch}.npk").write_bytes(
            build_npk("system", "7.16.1", arch, size=600_000, seed=seed))
    (folder / "routeros-7.22-arm64.npk").write_bytes(build_npk("system", "7.22", "arm64",
                                                               size=300_000, seed=4))
    (folder / "first-boot.rsc").write_bytes(b":delay 5s\n/system identity set name=lab\n")
    (folder / "rb4011.rsc").write_bytes(b":delay 5s\n/system identity set name=rb4011\n")
    (folder / "mode.rsc").write_bytes(b"/system device-mode update container=yes\n")
    (folder / "brand.dpk").write_bytes(b"synthetic branding package " * 100)
    (folder / "board.key").write_text("-----BEGIN MIKROTIK SOFTWARE KEY------------\n"
                                      f"{KEY[:44]}\n{KEY[44:]}\n"
                                      "-----END MIKROTIK SOFTWARE KEY--------------\n")
    return folder


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def received(board: dict) -> dict[str, str]:
    return {f["name"]: f["sha256"] for f in board["files"]}


def test_many_boards_different_archs_and_per_board_plugin_choices(station, files):
    (files / "chooser.py").write_text(textwrap.dedent(f"""
        class Chooser:
            def get_files(self, info):
                firmware = "{files}/routeros-7.16.1-" + info.arch + ".npk"
                if info.model == "RB4011iGS+":
                    return firmware, "{files}/rb4011.rsc"
                if info.arch == "mipsbe":
                    return firmware, b""          # empty configuration
                return firmware, None             # RouterOS default configuration
        """))
    config = ini(files, "[pynetinstall]\nplugin=chooser:Chooser\n")
    station.emulate("--boards", "2", "--arch", "arm64", "--seed", "1")
    station.emulate("--model", "RB4011iGS+", "--arch", "arm", "--seed", "2")
    station.emulate("--model", "RB2011", "--arch", "mipsbe", "--v6", "--seed", "3")
    flash = station.flash(config, "--count", "4")
    _, log = flash.communicate(timeout=90)
    assert flash.returncode == 0, log
    boards = station.summaries()
    assert all(b["installed"] for b in boards)
    by_model = {}
    for board in boards:
        by_model.setdefault(board["model"], []).append(board)
    for board in by_model["RB5009UG+S+"]:
        assert received(board) == {"routeros-7.16.1-arm64.npk":
                                   sha(files / "routeros-7.16.1-arm64.npk")}
    (rb4011,) = by_model["RB4011iGS+"]
    assert received(rb4011) == {"routeros-7.16.1-arm.npk": sha(files / "routeros-7.16.1-arm.npk"),
                                "autorun.scr": sha(files / "rb4011.rsc")}
    (rb2011,) = by_model["RB2011"]
    assert [(f["name"], f["received"]) for f in rb2011["files"]][-1] == ("autorun.scr", 0)
    rows = station.rows()
    assert sorted(r["outcome"] for r in rows) == ["rebooted"] * 4
    assert {r["config_mode"] for r in rows} == {"default", "script", "empty"}
    for row in rows:
        assert row["software_id"] and row["model"] and row["arch"] and row["bytes"] > 0
        assert json.loads(row["files"])[0]["sha256"]
        assert row["duration"] > 0 and row["ended_at"] >= row["started_at"]


def test_multi_port_board_is_answered_on_one_mac_only(station, files):
    config = ini(files, f"[nitools]\nfirmware={files}/routeros-7.16.1-arm64.npk\n")
    station.emulate("--ports", "3", "--seed", "5")
    flash = station.flash(config, "-1")
    _, log = flash.communicate(timeout=60)
    assert flash.returncode == 0, log
    (board,) = station.summaries()
    assert board["installed"] and board["offers_seen"] == 1
    assert board["answered_mac"] in board["macs"]
    # Each port announcing before one of them took the offer is found; the port that takes
    # it owns the board and the others are its own ports, skipped (never failure rows).
    found = log.count(": found:")
    assert 1 <= found <= 3 and log.count("skipped: another port of the board") == found - 1
    (row,) = station.rows()
    assert row["answered_mac"] == board["answered_mac"]
    assert sorted(row["macs"].split(",")) == sorted(board["macs"])  # every port recorded


@pytest.mark.parametrize(("args", "emulate_args", "check"), [
    (["--config-mode", "default"], [], lambda b, f: "autorun.scr" not in received(b)),
    (["--config-mode", "empty"], [],
     lambda b, f: [(x["name"], x["received"]) for x in b["files"]][-1] == ("autorun.scr", 0)),
    (["--script", "SCRIPT"], [],
     lambda b, f: received(b)["autorun.scr"] == sha(f / "first-boot.rsc")),
    (["--config-mode", "keep"], [],
     lambda b, f: b["keep_config"] and "autorun.scr" not in received(b)),
    (["--key-file", "KEYFILE"], ["--accept-key", KEY, "--key-required"],
     lambda b, f: b["installed_key"] == KEY),
    (["--branding", "BRAND"], [],
     lambda b, f: received(b)["brand.dpk"] == sha(f / "brand.dpk")),
])
def test_each_configuration_outcome_reaches_the_board(station, files, args, emulate_args,
                                                       check):
    config = ini(files, f"[nitools]\nfirmware={files}/routeros-7.16.1-arm64.npk\n")
    replacements = {"SCRIPT": str(files / "first-boot.rsc"), "KEYFILE": str(files / "board.key"),
                    "BRAND": str(files / "brand.dpk")}
    station.emulate("--seed", "6", *emulate_args)
    flash = station.flash(config, "-1", *[replacements.get(a, a) for a in args])
    _, log = flash.communicate(timeout=60)
    assert flash.returncode == 0, log
    (board,) = station.summaries()
    assert board["installed"] and check(board, files)
    assert KEY not in log  # licence keys stay out of the log
    (row,) = station.rows()
    assert row["outcome"] == "rebooted"


def test_mode_script_with_routeros_7_22(station, files):
    config = ini(files, f"[nitools]\nfirmware={files}/routeros-7.22-arm64.npk\n"
                        f"config={files}/first-boot.rsc\nmode_script={files}/mode.rsc\n")
    station.emulate("--seed", "7")
    flash = station.flash(config, "-1")
    _, log = flash.communicate(timeout=60)
    assert flash.returncode == 0, log
    (board,) = station.summaries()
    assert [f["name"] for f in board["files"]] == ["routeros-7.22-arm64.npk", "autorun.scr",
                                                  "mode.scr"]
    assert received(board)["mode.scr"] == sha(files / "mode.rsc")
    assert station.rows()[0]["config_mode"] == "script + mode script"


def test_mode_script_is_refused_below_7_22(station, files):
    config = ini(files, f"[nitools]\nfirmware={files}/routeros-7.16.1-arm64.npk\n"
                        f"mode_script={files}/mode.rsc\n")
    station.emulate("--seed", "8", timeout=6)
    flash = station.flash(config, "-1")
    _, log = flash.communicate(timeout=60)
    assert flash.returncode == 1 and "needs RouterOS 7.22" in log
    (board,) = station.summaries()
    assert board["offers_seen"] == 0
    assert station.rows()[0]["outcome"] == "refused"


def test_mac_filter_and_once(station, files):
    config = ini(files, f"[nitools]\nfirmware={files}/routeros-7.16.1-arm64.npk\n")
    station.emulate("--boards", "2", "--seed", "9", timeout=8)
    first_mac = "02:4e:49:00:90:01"  # board 0 of seed 9 (see emulator.make_boards)
    flash = station.flash(config, "-1", "--mac", first_mac)
    _, log = flash.communicate(timeout=60)
    assert flash.returncode == 0, log
    boards = {b["macs"][0]: b for b in station.summaries()}
    assert boards[first_mac]["installed"]
    assert all(b["offers_seen"] == 0 for m, b in boards.items() if m != first_mac)

    # The same board net-boots again: with --once it is left alone.
    station.emulators.clear()
    station.emulate("--boards", "1", "--seed", "9", timeout=6)
    flash = station.flash(config, "--once")
    time.sleep(4)
    flash.send_signal(signal.SIGTERM)
    _, log = flash.communicate(timeout=30)
    assert "not installing again (--once)" in log
    (board,) = station.summaries()
    assert board["offers_seen"] == 0
    assert [r["outcome"] for r in station.rows()] == ["rebooted"]


def test_board_going_silent_mid_file_fails_clearly_and_others_finish(station, files):
    config = ini(files, f"[nitools]\nfirmware={files}/routeros-7.16.1-arm64.npk\n")
    station.emulate("--seed", "10", "--die-after", "200000")
    station.emulate("--seed", "11")
    flash = station.flash(config, "--count", "2")
    started = time.monotonic()
    _, _log = flash.communicate(timeout=60)
    assert flash.returncode == 1
    assert 9 < time.monotonic() - started < 20  # given up soon after the board would have
    boards = {b["software_id"]: b for b in station.summaries()}
    states = sorted(b["state"] for b in boards.values())
    assert states == ["aborted", "rebooted"]
    rows = {r["outcome"]: r for r in station.rows()}
    assert set(rows) == {"rebooted", "failed"}
    assert "stopped answering for 10 s during routeros-7.16.1-arm64.npk" in rows["failed"][
        "reason"]


def test_board_rebooting_mid_install_gets_a_fresh_session(station, files):
    config = ini(files, f"[nitools]\nfirmware={files}/routeros-7.16.1-arm64.npk\n"
                        f"config={files}/first-boot.rsc\n")
    station.emulate("--seed", "12", "--reboot-after", "300000")
    flash = station.flash(config, "-1")  # the restart is not the end of that board
    _, log = flash.communicate(timeout=60)
    (board,) = station.summaries()
    assert board["installed"] and board["reboots"] == 1
    assert received(board) == {"routeros-7.16.1-arm64.npk":
                               sha(files / "routeros-7.16.1-arm64.npk"),
                               "autorun.scr": sha(files / "first-boot.rsc")}
    rows = station.rows()
    assert [r["outcome"] for r in rows] == ["failed", "rebooted"]
    assert "announced itself again" in rows[0]["reason"]
    assert flash.returncode == 0, log  # the board was installed in the end


def test_loss_and_duplication_with_several_boards(station, files):
    config = ini(files, f"[nitools]\nfirmware={files}/routeros-7.16.1-arm64.npk\n")
    station.emulate("--boards", "3", "--seed", "13", "--drop", "0.05", "--duplicate", "0.05")
    flash = station.flash(config, "--count", "3")
    _, log = flash.communicate(timeout=90)
    assert flash.returncode == 0, log
    boards = station.summaries()
    assert all(received(b) == {"routeros-7.16.1-arm64.npk":
                               sha(files / "routeros-7.16.1-arm64.npk")} for b in boards)
    assert [r["outcome"] for r in station.rows()] == ["rebooted"] * 3


@pytest.mark.parametrize(("grace", "expect_code", "expect_outcome"), [
    ("30", 0, "rebooted"), ("0.3", 130, "interrupted")])
def test_sigterm_lets_running_installs_finish_within_the_grace_period(
        station, files, grace, expect_code, expect_outcome):
    config = ini(files, f"[nitools]\nfirmware={files}/routeros-7.16.1-arm64.npk\n")
    # About 400 chunks at 5 ms each: a couple of seconds of upload to interrupt.
    station.emulate("--seed", "14", "--chunk-delay", "5", timeout=30)
    flash = station.flash(config, "--grace", grace, "--window", "1")
    deadline = time.monotonic() + 20
    while not (station.journal.exists() and any(
            r["outcome"] == "installing" for r in station.rows())):
        assert time.monotonic() < deadline, "the board was never offered"
        time.sleep(0.1)
    time.sleep(0.5)
    flash.send_signal(signal.SIGTERM)
    _, log = flash.communicate(timeout=60)
    assert flash.returncode == expect_code, log
    (row,) = station.rows()
    assert row["outcome"] == expect_outcome
    if expect_outcome == "interrupted":
        assert "must be net-installed again" in log
