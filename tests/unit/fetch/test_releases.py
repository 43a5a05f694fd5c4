"""`nitools flash` by RouterOS version, as a real process against emulated boards over
127.0.0.1 UDP, with packages from a real HTTP mirror or a folder."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import textwrap

import pytest

from nitools.emulation.emulator import BoardSpec
from tests.helpers import loopback_boards, run_cli
from tests.mirror_server import mirror, package_bytes


@pytest.fixture
def served(tmp_path):
    with mirror(tmp_path / "mirror") as server:
        yield server


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flash(tmp_path, args: tuple[str, ...], spec: BoardSpec | None = None):
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    journal = str(tmp_path / "journal.sqlite3")
    with loopback_boards(spec) as boards:
        result = run_cli("flash", "-1", "--plain", "--loopback", boards.loopback_arg,
                         "--journal", journal, *args, env=env)
        return result, boards.emulator.summary()


def received(board: dict) -> dict[str, str]:
    return {f["name"]: f["sha256"] for f in board["files"]}


def test_routeros_channel_and_package_need_no_ini(served, tmp_path):
    result, summary = flash(tmp_path, ("--routeros", "stable", "--package", "container",
                                       "--mirror", served.url))
    assert result.returncode == 0, result.stderr
    assert "RouterOS 7.16.1 (channel stable)" in result.stderr
    (board,) = summary["boards"]
    assert received(board) == {
        "routeros-7.16.1-arm64.npk": sha(package_bytes("system", "7.16.1", "arm64")),
        "container-7.16.1-arm64.npk": sha(package_bytes("container", "7.16.1", "arm64"))}


def test_ini_keys_and_the_mirror_from_the_environment(served, tmp_path):
    (tmp_path / "first.rsc").write_text("/system identity set name=by-version\n")
    ini = tmp_path / "station.ini"
    ini.write_text(textwrap.dedent("""\
        [nitools]
        routeros = 7.15.3
        packages =
            wifi-qcom
            container
        config = first.rsc
        """))
    env_args = ("-c", str(ini))
    with loopback_boards() as boards:
        result = run_cli("flash", "-1", "--plain", "--loopback", boards.loopback_arg,
                         "--journal", str(tmp_path / "j.sqlite3"), *env_args,
                         env={"XDG_CACHE_HOME": str(tmp_path / "xdg"),
                              "NITOOLS_MIRROR": served.url})
        summary = boards.emulator.summary()
    assert result.returncode == 0, result.stderr
    (board,) = summary["boards"]
    assert list(received(board)) == ["routeros-7.15.3-arm64.npk", "wifi-qcom-7.15.3-arm64.npk",
                                     "container-7.15.3-arm64.npk", "autorun.scr"]


def test_a_board_above_the_version_is_refused_and_never_offered(served, tmp_path):
    result, summary = flash(tmp_path, ("--routeros", "7.15.3", "--mirror", served.url,
                                       "--count", "1"),
                            BoardSpec(min_version="7.16"))
    (board,) = summary["boards"]
    assert board["offers_seen"] == 0 and not board["files"]
    assert "needs RouterOS 7.16 or newer; this station installs 7.15.3" in result.stderr
    with sqlite3.connect(tmp_path / "journal.sqlite3") as db:
        outcomes = [row[0] for row in db.execute("SELECT outcome FROM attempts")]
    assert outcomes and set(outcomes) == {"refused"}


def test_mirror_down_and_nothing_cached_is_an_error_before_any_offer(tmp_path):
    result, summary = flash(tmp_path, ("--routeros", "7.16.1", "--mirror",
                                       "http://127.0.0.1:9"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "nitools: error: mirror http://127.0.0.1:9 cannot be reached")
    assert summary["boards"][0]["offers_seen"] == 0


def test_unknown_version_is_refused_at_start_naming_a_url(served, tmp_path):
    result = run_cli("flash", "--loopback", "1:2", "--routeros", "7.99", "--mirror",
                     served.url)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"nitools: error: RouterOS 7.99 is not on the mirror {served.url}: no system package "
        f"for any architecture (such as {served.url}/routeros/7.99/routeros-7.99-mipsbe.npk)"
        ": check the version")


def test_a_version_published_for_some_architectures_only_is_served_for_those(served,
                                                                              tmp_path):
    result, _ = flash(tmp_path, ("--routeros", "7.15.3", "--mirror", served.url),
                      BoardSpec(arch="smips"))
    assert f"not on the mirror (HTTP 404): {served.url}/routeros/7.15.3/" \
        "routeros-7.15.3-smips.npk" in result.stderr  # per board: others have their files


def test_packages_dir_and_arguments_do_not_mix(served, tmp_path):
    folder = tmp_path / "pkgs"
    folder.mkdir()
    (folder / "x.npk").write_bytes(package_bytes("system", "7.16.1", "arm64"))
    result = run_cli("flash", "--loopback", "1:2", "--packages-dir", str(folder),
                     str(folder / "x.npk"))
    assert result.returncode == 2
    assert "give packages as arguments or --routeros/--packages-dir, not both" in result.stderr
    both = tmp_path / "both.ini"
    both.write_text("[nitools]\nfirmware = x.npk\nroutetos = 7.16.1\n")
    typo = run_cli("flash", "--loopback", "1:2", "-c", str(both))
    assert "unknown key routetos=: did you mean routeros=?" in typo.stderr


def test_a_plugin_may_answer_with_a_version(served, tmp_path):
    (tmp_path / "by_version.py").write_text(textwrap.dedent("""\
        class Plugin:
            def get_files(self, info):
                return {"routeros": "testing", "packages": ["container"]}
        """))
    ini = tmp_path / "station.ini"
    ini.write_text(f"[nitools]\nplugin = by_version:Plugin\nmirror = {served.url}\n")
    result, summary = flash(tmp_path, ("-c", str(ini)))
    assert result.returncode == 0, result.stderr
    (board,) = summary["boards"]
    assert list(received(board)) == ["routeros-7.17rc2-arm64.npk",
                                     "container-7.17rc2-arm64.npk"]




def test_rows_an_earlier_run_could_not_write_are_written_at_start(tmp_path, monkeypatch):
    from nitools.journal.attempts import Journal
    from nitools.journal.spool import spool_path

    state = tmp_path / "state"
    spool = state / "nitools" / "unwritten-line-7.jsonl"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    assert spool_path("line-7") == spool
    spool.parent.mkdir(parents=True)
    # As an earlier nitools wrote it: "row" for the id, no duration, no cause.
    spool.write_text(json.dumps({"row": None, "started_at": 1.0e9, "ended_at": 1.0e9 + 30,
                                 "answered_mac": "02:00:00:00:00:77", "outcome": "rebooted",
                                 "reason": "installed", "bytes": 10, "station": "line-7",
                                 "macs": ["02:00:00:00:00:77"], "files": None}) + "\n")
    (tmp_path / "x.npk").write_bytes(package_bytes("system", "7.16.1", "arm64"))
    with loopback_boards() as boards:
        result = run_cli("flash", "-1", "--plain", "--loopback", boards.loopback_arg,
                         "--station-name", "line-7", "--journal", str(tmp_path / "j.sqlite3"),
                         str(tmp_path / "x.npk"), env={"XDG_STATE_HOME": str(state)})
    assert result.returncode == 0, result.stderr
    assert f"journal: 1 attempts of an earlier run written from {spool}" in result.stderr
    rows = Journal(tmp_path / "j.sqlite3").attempts()
    assert (rows[0].answered_mac, rows[0].outcome, rows[0].duration) == (
        "02:00:00:00:00:77", "rebooted", 30.0)
    assert len(rows) == 2 and not spool.exists()
