"""The operator in the loop over real broadcast: a station holds emulated boards until an
operator approves them, through its control socket (``nitools approve``, run beside the
station) and through its HTTP API with a token (``--station URL``); an action without
the token, or from another origin, is refused; ``--once`` is forgotten for one board by
``nitools reinstall``; ``--after-install wait`` keeps a board in WTRM until
``nitools reboot``. Every action is in the board's journal timeline with who asked."""

from __future__ import annotations

import json
import shutil
import time
import uuid

import pytest

from nitools.emulation.synthetic import build_npk
from tests.helpers import run_cli
from tests.lab.netns import FLASHER_IF

pytestmark = pytest.mark.lab
TOKEN = "op-t0ken"
PORT = 8091


def start(station, tmp_path, *args):
    package = tmp_path / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=300_000, seed=12))
    name = f"lab-{uuid.uuid4().hex[:8]}"
    pair = station.pair
    flash = pair.start(pair.flasher_ns, "flash", "--plain", "-m", "-i", FLASHER_IF,
                       "--journal", str(station.journal), "--station-name", name,
                       "--web", str(PORT), "--web-token", TOKEN, *args, str(package))
    return flash, name


def boards(name, phase=None, count=1, timeout=30.0):
    """`nitools boards --json` through the control socket, until ``count`` boards are in
    ``phase``."""
    deadline = time.monotonic() + timeout
    while True:
        listed = run_cli("boards", "--json", "--station-name", name)
        if listed.returncode == 0:
            found = json.loads(listed.stdout)
            if phase is None or sum(b["phase"] == phase for b in found) >= count:
                return found
        assert time.monotonic() < deadline, (listed.stdout, listed.stderr)
        time.sleep(0.3)


def api(pair, method, path, *headers):
    process = pair.start(pair.flasher_ns, method, f"http://127.0.0.1:{PORT}{path}", *headers,
                         module="tests.lab.http_probe")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return json.loads(out)


def operator_cli(pair, *args):
    """A command as a remote operator runs it: over the HTTP API, with the token."""
    process = pair.start(pair.flasher_ns, *args, "--station", f"http://127.0.0.1:{PORT}",
                         "--token", TOKEN)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def row_of(station, mac, outcome, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [r for r in station.rows() if r["answered_mac"] == mac
                and r["outcome"] == outcome]
        if rows:
            return rows[-1]
        time.sleep(0.2)
    raise AssertionError(f"no {outcome} row for {mac}: {station.rows()}")


def steps(row):
    return [(step["event"], step.get("by", "")) for step in json.loads(row["timeline"])]


def test_held_boards_are_approved_and_skipped_by_socket_and_by_the_api(station, tmp_path):
    flash, name = start(station, tmp_path, "--hold")
    station.emulate("--boards", "4", "--seed", "31", timeout=60)
    by_socket, by_api, skip_api, skip_socket = sorted(
        b["mac"] for b in boards(name, "held", count=4))
    time.sleep(3)  # held boards stay held: nothing is offered
    assert all(r["outcome"] != "rebooted" for r in station.rows())
    # Refused without the token, and from a page of another origin
    assert api(station.pair, "POST", f"/api/boards/{skip_api}/skip")["status"] == 401
    assert api(station.pair, "POST", f"/api/boards/{skip_api}/skip",
               f"Authorization:Bearer {TOKEN}", "Origin:http://evil.example")["status"] == 403
    assert api(station.pair, "GET", "/api/boards")["status"] == 401
    approved = run_cli("approve", by_socket, "--station-name", name)
    assert approved.returncode == 0, approved.stderr
    assert f"{by_socket}: approve done -> offering" in approved.stdout
    code, out, err = operator_cli(station.pair, "approve", by_api)
    assert code == 0 and f"{by_api}: approve done -> offering" in out, out + err
    code, out, err = operator_cli(station.pair, "skip", skip_api)
    assert code == 0, err
    assert f"{skip_api}: skip done -> skipped" in out
    skipped = run_cli("skip", skip_socket, "--station-name", name)
    assert skipped.returncode == 0 and "skip done -> skipped" in skipped.stdout
    code, out, _ = operator_cli(station.pair, "approve", skip_api)  # skipped: not held
    assert code == 1 and "conflict" in out
    gone = api(station.pair, "POST", "/api/boards/02:00:00:00:00:99/approve",
               f"Authorization:Bearer {TOKEN}")
    assert gone["status"] == 404
    for mac, via in ((by_socket, "socket uid 0 pid "), (by_api, "token from 127.0.0.1")):
        installed = row_of(station, mac, "rebooted")
        assert [s[0] for s in steps(installed)][:3] == ["found", "held", "approve"]
        assert steps(installed)[2][1].startswith(via)
    for mac, via in ((skip_api, "token from 127.0.0.1"), (skip_socket, "socket uid 0 pid ")):
        row = row_of(station, mac, "skipped")
        assert row["cause"] == "operator" and via in row["reason"]
        assert any(event == "skip" and by.startswith(via) for event, by in steps(row))
    time.sleep(2)  # the skipped boards announce on: never offered
    assert {r["outcome"] for r in station.rows()} == {"rebooted", "skipped"}
    flash.terminate()
    _, log = flash.communicate(timeout=30)
    assert "this run's journal: 2 rebooted, 2 skipped" in log, log


def test_reinstall_forgets_once_and_wait_holds_term_until_reboot(station, tmp_path):
    flash, name = start(station, tmp_path, "--once", "--after-install", "wait")
    station.emulate("--seed", "41", timeout=90)
    (board,) = boards(name, "waiting")
    mac = board["mac"]
    time.sleep(4)  # it waits in WTRM: no TERM, no rebooted row
    assert [r["outcome"] for r in station.rows()] == ["installing"]
    assert boards(name)[0]["phase"] == "waiting"
    code, out, err = operator_cli(station.pair, "reboot", mac)
    assert code == 0 and f"{mac}: reboot done -> rebooting" in out, out + err
    first = row_of(station, mac, "rebooted")
    assert [s[0] for s in steps(first)][-4:] == ["waiting", "reboot", "term-sent", "rebooted"]
    # The same board net-boots again: --once (the journal) leaves it alone until asked
    again = station.emulate("--seed", "41", timeout=60)
    time.sleep(4)
    assert len(station.rows()) == 1
    code, out, err = operator_cli(station.pair, "reinstall", mac)
    assert code == 0 and f"{mac}: reinstall done" in out, out + err
    (board,) = boards(name, "waiting")
    assert run_cli("reboot", mac, "--station-name", name).returncode == 0
    second = [r for r in station.rows() if r["answered_mac"] == mac]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and second[-1]["outcome"] != "rebooted":
        time.sleep(0.2)
        second = [r for r in station.rows() if r["answered_mac"] == mac]
    assert [r["outcome"] for r in second] == ["rebooted", "rebooted"]
    assert steps(second[-1])[0][0] == "reinstall"  # the next row says who asked for it
    summary, _ = again.communicate(timeout=30)
    assert json.loads(summary)["boards"][0]["state"] == "rebooted"
    flash.terminate()
    flash.communicate(timeout=30)


def test_a_stop_reboots_a_waiting_board_first_and_says_so(station, tmp_path):
    flash, name = start(station, tmp_path, "--after-install", "wait")
    station.emulate("--seed", "51", timeout=60)
    (board,) = boards(name, "waiting")
    flash.terminate()  # SIGTERM: a stop
    _, log = flash.communicate(timeout=60)
    assert "1 board waiting after the install (--after-install wait) rebooted first" in log
    assert row_of(station, board["mac"], "rebooted")["outcome"] == "rebooted"


@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                    reason="chromium and chromedriver not installed (Debian: apt-get install "
                           "chromium chromium-driver)")
def test_the_web_views_buttons_approve_and_reboot_a_board(station, tmp_path):
    pytest.importorskip("selenium")
    flash, _ = start(station, tmp_path, "--hold", "--after-install", "wait")
    station.emulate("--seed", "61", timeout=90)
    browse = station.pair.start(station.pair.flasher_ns,
                                f"http://127.0.0.1:{PORT}/?token={TOKEN}", "60",
                                module="tests.lab.browse_act")
    out, err = browse.communicate(timeout=120)
    if browse.returncode != 0:
        flash.terminate()
        raise AssertionError(out + err + flash.communicate(timeout=30)[1])
    report = json.loads(out)
    mac = report["held"]["mac"]
    assert report["held"]["buttons"] == ["approve", "skip"]
    assert report["held"]["phase_colour"] == "rgba(21, 101, 192, 1)"  # its own colour
    assert report["approve_answer"].startswith(f"{mac}: approve done")
    assert report["waiting"]["buttons"] == ["reboot"]
    assert report["reboot_answer"].startswith(f"{mac}: reboot done → rebooting")
    assert report["rebooted"]["buttons"] == ["reinstall"]
    row = row_of(station, mac, "rebooted")
    by_page = [(event, by) for event, by in steps(row) if event in ("approve", "reboot")]
    assert by_page == [("approve", "token from 127.0.0.1"), ("reboot", "token from 127.0.0.1")]
    flash.terminate()
    flash.communicate(timeout=30)
