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
    assert steps == ["dhcp", "tftp", "found", "offered", "formatted", "uploaded", "rebooted",
                     "verified"], log.text
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


def station_env():
    return {**os.environ, "PYTHONPATH": str(REPO)}
