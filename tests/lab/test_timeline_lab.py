"""A board followed from its first BOOTP request to RouterOS running, through the real
dnsmasq of `nitools station` and a real BOOTP + TFTP client; and a board that loads its
image and never announces itself, which is recorded `silent` with the likely causes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO
from tests.lab.test_station_cmd_lab import Log, address, needs_dnsmasq, netboot

pytestmark = pytest.mark.lab
BOARD = "02:4e:49:05:10:01"  # `nitools emulate --seed 81`
NEVER = "02:4e:49:0a:0a:0a"  # boots its image, never talks netinstall


def rows_of(journal):
    try:
        with sqlite3.connect(journal) as db:
            db.row_factory = sqlite3.Row
            return {r["answered_mac"]: dict(r) for r in db.execute("SELECT * FROM attempts")}
    except sqlite3.OperationalError:  # not created yet
        return {}


@needs_dnsmasq
def test_timeline_from_bootp_to_verified_and_a_silent_board(station, boot_root, package):
    pair, journal = station.pair, station.journal
    address(pair, FLASHER_IF, "192.0.2.1/24")
    # The board's port has the MAC the emulated board announces with; a second MAC on the
    # same wire (macvlan) plays a board that boots and then stays silent.
    subprocess.run(["ip", "-n", pair.board_ns, "link", "set", BOARD_IF, "address", BOARD],
                   check=True)
    subprocess.run(["ip", "-n", pair.board_ns, "link", "add", "bd0s", "link", BOARD_IF, "type",
                    "macvlan", "mode", "bridge"], check=True)
    subprocess.run(["ip", "-n", pair.board_ns, "link", "set", "bd0s", "address", NEVER, "up"],
                   check=True)
    log = Log(pair.start(pair.flasher_ns, "station", "--plain", "-m", "-i", FLASHER_IF,
                         "--tftp-root", str(boot_root), "--journal", str(journal), "-r",
                         "--verify", "--verify-timeout", "30", "--announce-timeout", "8",
                         str(package)))
    log.wait_for("listening on interface fl0")
    assert netboot(pair, "bd0s")["tftp"]["sha256"]  # the silent one got its image
    assert netboot(pair, BOARD_IF)["reply"]["file"] == "netinstall.arm64"
    station.emulate("--seed", "81", "--mndp-after", "1")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and log.process.poll() is None:
        rows = rows_of(journal)
        if rows.get(BOARD, {}).get("outcome") == "verified" and NEVER in rows:
            break
        time.sleep(0.3)
    for _ in range(2):  # a board asking with a vendor class this station has no image for
        subprocess.run(["ip", "netns", "exec", pair.board_ns, sys.executable, "-m",
                        "tests.lab.netboot_client", "bd0s", "bootp", "PPC_boot", "--timeout",
                        "2"], capture_output=True, timeout=30, env=station_env())
    log.wait_for("no-image: vendor class PPC_boot has no boot image here (served: "
                 "ARM64__boot)")
    log.process.send_signal(signal.SIGTERM)
    log.finish()
    assert log.text.count("vendor class PPC_boot has no boot image here") == 1  # once a MAC
    rows = rows_of(journal)
    steps = [step["event"] for step in json.loads(rows[BOARD]["timeline"])]
    assert steps == ["dhcp", "tftp", "found", "offered", "formatted", "uploaded", "term-sent",
                     "rebooted", "verified"], log.text
    assert NEVER in rows, log.text
    silent = rows[NEVER]
    assert silent["outcome"] == "silent" and silent["cause"] == "never-announced"
    assert "got boot image netinstall.arm64 but never announced itself in netinstall " \
           "within 8 s" in silent["reason"]
    assert "(it asked as ARM64__boot)" in silent["reason"]
    assert [s["event"] for s in json.loads(silent["timeline"])] == ["dhcp", "tftp", "silent"]
    shown = subprocess.run([sys.executable, "-m", "nitools", "history", "--journal", str(journal),
                            "--mac", BOARD, "--timeline"], capture_output=True, text=True,
                           env=station_env())
    assert shown.returncode == 0 and shown.stdout.split()[-1] == "verified", shown.stderr


def station_for(station, boot_root, package, board_mac: str, *args: str) -> Log:
    """`nitools station` on fl0 (192.0.2.1/24) with the real dnsmasq, the board's port
    set to the MAC the emulated board announces with: listening when this returns."""
    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")
    subprocess.run(["ip", "-n", pair.board_ns, "link", "set", BOARD_IF, "address",
                    board_mac], check=True)
    log = Log(pair.start(pair.flasher_ns, "station", "--plain", "-m", "-i", FLASHER_IF,
                         "--tftp-root", str(boot_root), "--journal", str(station.journal),
                         "-r", *args, str(package)))
    log.wait_for("listening on interface fl0")
    return log


def station_env():
    return {**os.environ, "PYTHONPATH": str(REPO)}


# Runs in the board namespace from another address: asks the station's TFTP for a file
# whose name ends like dnsmasq's own log line about another board.
SPOOF = """
import socket, sys
name = f"x not found for {sys.argv[1]}".encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.50", 0))
s.sendto(b"\\x00\\x01" + name + b"\\x00octet\\x00", ("192.0.2.1", 69))
"""


@needs_dnsmasq
def test_a_strangers_tftp_request_writes_nothing_in_a_boards_name(station, boot_root,
                                                                  package):
    """Issue 27 row 6: a TFTP request from 192.0.2.50 for 'x not found for 192.0.2.213'
    gave the board leased 192.0.2.213 a tftp-failed step, then a silent row saying its
    boot image transfer failed."""
    pair, journal = station.pair, station.journal
    log = station_for(station, boot_root, package, NEVER, "--no-mndp", "--announce-timeout",
                      "4", "-v")
    booted = netboot(pair, BOARD_IF)
    assert booted["tftp"]["sha256"]  # it loaded its image; it never announces itself
    leased = booted["reply"]["yiaddr"]
    subprocess.run(["ip", "-n", pair.board_ns, "addr", "add", "192.0.2.50/24", "dev",
                    BOARD_IF], check=True)
    for _ in range(3):
        subprocess.run(["ip", "netns", "exec", pair.board_ns, sys.executable, "-c", SPOOF,
                        leased], check=True, timeout=10)
    deadline = time.monotonic() + 30
    while NEVER not in rows_of(journal):
        assert time.monotonic() < deadline and log.process.poll() is None, log.text[-2000:]
        time.sleep(0.3)
    log.process.send_signal(signal.SIGTERM)
    log.finish()
    silent = rows_of(journal)[NEVER]
    assert (silent["outcome"], silent["cause"]) == ("silent", "never-announced"), silent
    assert [s["event"] for s in json.loads(silent["timeline"])] == ["dhcp", "tftp", "silent"]
    assert f"not found for {leased} not found for 192.0.2.50" in log.text  # it was read


@needs_dnsmasq
def test_bootp_in_an_installing_boards_name_leaves_its_row_small(station, boot_root, package):
    """Issue 27 row 7: BOOTP requests in an installing board's name made a timeline of
    thousands of steps, re-sorted on every one."""
    from tests.lab.test_station_cmd_lab import bootp_many

    pair, journal = station.pair, station.journal
    address(pair, FLASHER_IF, "192.0.2.1/24")
    log = Log(pair.start(pair.flasher_ns, "station", "--plain", "-1", "-i", FLASHER_IF,
                         "--tftp-root", str(boot_root), "--journal", str(journal), "-r",
                         "--no-mndp", str(package)))
    log.wait_for("listening on interface fl0")
    station.emulate("--seed", "81", "--chunk-delay", "40")  # some seconds of upload
    log.wait_for("uploading")
    bootp_many(pair, [bytes.fromhex(BOARD.replace(":", ""))] * 1000)  # in its name
    assert log.finish(timeout=120) == 0, log.text[-2000:]
    row = rows_of(journal)[BOARD]
    steps = json.loads(row["timeline"])
    assert row["outcome"] == "rebooted" and len(steps) <= 64
    (dhcp,) = [step for step in steps if step["event"] == "dhcp"]
    assert dhcp["times"] >= 900  # every request counted, kept once

