"""Frames forged in a board's name over real broadcast: the record must not lie.

A stranger in the board's namespace acknowledges every frame the station sends to the
board, before the board does, and answers the end of the file list with WTRM, while the
real (emulated) board loses some frames. Without detection the journal said rebooted
for a board that never got its files; now the session fails as conflicting."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import BOARD_IF, FLASHER_IF
from tests.lab.stations import ini

pytestmark = pytest.mark.lab

# Runs in the board namespace: acknowledges, in the board's name, every frame the
# station sends it (RETR; WTRM to the end of the file list), as fast as it can.
FORGER = textwrap.dedent("""
    import socket, struct, sys, time
    iface, station, seconds = sys.argv[1], bytes.fromhex(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.bind(("0.0.0.0", 5000)); s.settimeout(0.5)
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        src, dst, _, _, seq, ack = struct.unpack("<6s6sHHHH", data[:20])
        if src != station or seq < 3:
            continue
        payload = data[20:]
        if payload.startswith(b"TERM"):
            continue
        answer = b"WTRM" if payload == b"FILE\\n" else b"RETR"
        s.sendto(struct.pack("<6s6sHHHH", dst, station, 0, len(answer), seq, seq) + answer,
                 ("255.255.255.255", 5000))
""")


def test_acknowledgements_forged_ahead_of_the_board_fail_the_session_not_rebooted(
        station, tmp_path):
    pair = station.pair
    package = tmp_path / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=1_500_000, seed=61))
    station_mac = pair.mac(pair.flasher_ns, FLASHER_IF).replace(":", "")
    forger = subprocess.Popen(["ip", "netns", "exec", pair.board_ns, sys.executable, "-c",
                               FORGER, BOARD_IF, station_mac, "40"],
                              stdout=subprocess.PIPE, text=True)
    pair.processes.append(forger)  # stopped with the namespaces, also on failure
    assert forger.stdout.readline().strip() == "ready"
    # the board answers 10 ms after each frame, the stranger at once; it loses 5 %
    station.emulate("--seed", "62", "--drop", "0.05", "--link-delay", "5", timeout=40)
    flash = station.flash(ini(tmp_path, f"[nitools]\nfirmware={package}\n"), "-1")
    _, log = flash.communicate(timeout=60)
    forger.kill()
    (board,) = station.summaries()
    assert not board["installed"]  # the board itself never got its files
    rows = station.rows()
    assert [(r["outcome"], r["cause"]) for r in rows] == [
        ("failed", "conflicting-answers")], (rows, log)
    assert "conflicting answers on the wire" in rows[0]["reason"]
    assert flash.returncode == 1, log


# Runs in the board namespace: one announcement from a made-up MAC, as a stray frame or a
# board that another server takes would be; sent once.
STRAY = textwrap.dedent("""
    import socket, struct, sys
    body = b"DSCV\\nSTRY-0001\\n\\nRB5009\\narm64\\n7.12\\n7.16.1\\n\\0"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[1].encode())
    s.bind(("0.0.0.0", 5000))
    for _ in range(3):  # it announces a few times, then is gone
        s.sendto(struct.pack("<6s6sHHHH", bytes.fromhex("06bad0000001"), bytes(6), 0,
                             len(body), 1, 0) + body, ("255.255.255.255", 5000))
""")


def test_a_stray_announcement_does_not_end_a_one_shot_run(station, tmp_path):
    """Issue 27 row 3: one DSCV from a made-up MAC was offered, ignored for 8 s, counted,
    and 'flash -1' exited 1 before the real board was plugged in."""
    import time

    pair = station.pair
    package = tmp_path / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=150_000, seed=63))
    flash = station.flash(ini(tmp_path, f"[nitools]\nfirmware={package}\n"), "-1")
    time.sleep(1.5)  # listening
    subprocess.run(["ip", "netns", "exec", pair.board_ns, sys.executable, "-c", STRAY,
                    BOARD_IF], check=True, timeout=30)
    time.sleep(10.0)  # the stray's offer is ignored for 8 s
    assert flash.poll() is None, flash.communicate()[1]  # still waiting for its one board
    station.emulate("--seed", "64")  # the real board, plugged in now
    _, log = flash.communicate(timeout=60)
    assert flash.returncode == 0, log
    rows = station.rows()
    assert sorted((r["outcome"], r["cause"]) for r in rows) == [
        ("failed", "offer-ignored"), ("rebooted", None)], (rows, log)
    assert "1 board never answered an offer" in log
