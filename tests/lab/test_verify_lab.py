"""Proof in service over real broadcast: three emulated boards, one announcing the version
installed and the script's identity, one an older version, one silent; then the same
under a flood of forged MNDP datagrams (10,000 a second for 10 s)."""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import BOARD_IF, FLASHER_IF

pytestmark = pytest.mark.lab
# `nitools emulate --seed N` announces with 02:4e:49:00:N0:01.
VERIFIED, OLDER, SILENT = "02:4e:49:00:10:01", "02:4e:49:00:20:01", "02:4e:49:00:30:01"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "routeros-7.16.1-arm64.npk").write_bytes(
        build_npk("system", "7.16.1", "arm64", size=300_000, seed=1))
    (tmp_path / "first-boot.rsc").write_text("/system identity set name=\"line 1\"\n")
    return tmp_path


def run_three_boards(pair, files, flood_rate=0):
    emulators = [
        pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--seed", str(seed),
                   "--format-time", "0.2", "--timeout", "60", *extra)
        for seed, extra in ((1, ("--mndp-after", "2")),
                            (2, ("--mndp-after", "2", "--mndp-version", "7.15.3")),
                            (3, ()))]
    flood = None
    if flood_rate:
        flood = pair.start(pair.board_ns, BOARD_IF, str(flood_rate), "10",
                           module="tests.lab.mndp_flood")
    journal = files / "journal.sqlite3"
    started = time.monotonic()
    station = pair.start(pair.flasher_ns, "flash", "--plain", "-i", FLASHER_IF, "--count", "3",
                         "--verify", "--verify-timeout", "10", "--journal", str(journal),
                         "-s", str(files / "first-boot.rsc"),
                         str(files / "routeros-7.16.1-arm64.npk"))
    peak = cpu = 0.0
    while station.poll() is None and time.monotonic() - started < 90:
        peak = max(peak, _rss_mib(station.pid))
        cpu = _cpu_seconds(station.pid) or cpu
        time.sleep(0.2)
    _, log = station.communicate(timeout=30)
    for emulator in emulators:
        emulator.communicate(timeout=60)
    sent = int(flood.communicate(timeout=30)[0]) if flood is not None else 0
    with sqlite3.connect(journal) as db:
        db.row_factory = sqlite3.Row
        rows = {r["answered_mac"]: dict(r) for r in db.execute("SELECT * FROM attempts")}
    return station.returncode, log, rows, peak, cpu, sent


def _rss_mib(pid):
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match[1]) / 1024 if match else 0.0


def _cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def assert_three_outcomes(code, log, rows):
    assert code == 1, log  # one wrong version and one unverified
    assert {mac: rows[mac]["outcome"] for mac in (VERIFIED, OLDER, SILENT)} == {
        VERIFIED: "verified", OLDER: "wrong-version", SILENT: "unverified"}, log
    assert "identity 'line 1'" in rows[VERIFIED]["reason"]
    assert "booted RouterOS 7.15.3, not 7.16.1" in rows[OLDER]["reason"]
    assert rows[SILENT]["reason"].startswith("not seen in service")
    assert "in service: 1 verified, 1 wrong-version, 1 unverified" in log  # as the journal
    assert f"  verified: {VERIFIED}" in log and f"  unverified: {SILENT}" in log


def test_verified_wrong_version_and_unverified(netns_pair, files):
    code, log, rows, _, _, _ = run_three_boards(netns_pair, files)
    assert_three_outcomes(code, log, rows)
    seconds = re.search(r"announced ([0-9.]+) s after the TERM", rows[VERIFIED]["reason"])
    print(f"TERM to verified: {seconds[1]} s (the emulator announces 2 s after TERM)")


def test_a_flood_of_forged_mndp_changes_no_outcome(netns_pair, files):
    code, log, rows, peak, cpu, sent = run_three_boards(netns_pair, files, flood_rate=10_000)
    assert sent >= 90_000  # the flood really ran
    assert_three_outcomes(code, log, rows)
    ignored, garbage = map(int, re.search(r"MNDP: (\d+) announcements? of other devices "
                                          r"ignored, (\d+) datagrams?", log).groups())
    assert ignored > 20_000 and garbage > 5_000  # the station heard the flood
    print(f"MNDP flood: {sent} datagrams, {ignored} ignored and {garbage} garbage as the "
          f"station counted them; station peak RSS {peak:.0f} MiB, CPU {cpu:.1f} s")
    assert peak < 150


FORGED_VERDICT = """
import socket, struct, sys, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[1].encode())
mac = bytes.fromhex(sys.argv[2].replace(":", ""))
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:  # header + the board's MAC: 14 bytes, nothing else
    sock.sendto(b"\\0\\0\\0\\0" + struct.pack(">HH", 1, 6) + mac, ("255.255.255.255", 5678))
    time.sleep(0.05)
"""


def test_a_datagram_of_a_mac_alone_decides_nothing(netns_pair, files):
    """Issue 27 row 8: 14 bytes (header and the board's MAC) decided wrong-version; an
    announcement now counts only with an uptime that fits a boot after the TERM."""
    import subprocess
    import sys

    pair = netns_pair
    forger = subprocess.Popen(["ip", "netns", "exec", pair.board_ns, sys.executable, "-c",
                               FORGED_VERDICT, BOARD_IF, VERIFIED, "30"])
    pair.processes.append(forger)  # stopped with the namespaces, also on failure
    emulator = pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--seed", "1",
                          "--format-time", "0.2", "--timeout", "60", "--mndp-after", "3")
    journal = files / "journal.sqlite3"
    station = pair.start(pair.flasher_ns, "flash", "--plain", "-i", FLASHER_IF, "-1",
                         "--verify", "--verify-timeout", "20", "--journal", str(journal),
                         "-s", str(files / "first-boot.rsc"),
                         str(files / "routeros-7.16.1-arm64.npk"))
    _, log = station.communicate(timeout=90)
    emulator.communicate(timeout=60)
    with sqlite3.connect(journal) as db:
        (outcome,) = db.execute("SELECT outcome FROM attempts WHERE answered_mac = ?",
                                (VERIFIED,)).fetchone()
    assert (station.returncode, outcome) == (0, "verified"), log


@pytest.mark.skipif(shutil.which("dnsmasq", path=os.pathsep.join([
    os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])) is None,
    reason="dnsmasq is not installed (Debian: apt-get install dnsmasq-base)")
def test_a_board_silent_on_mndp_that_asks_for_an_address_ends_booted(station, boot_root,
                                                                    package):
    """Issue 28 row 6: after -r most routers put ether1 in the WAN list and RouterOS's
    default configuration limits neighbour discovery to the LAN list, so --verify ended
    `unverified` for a board that came up fine. Its DHCP client on ether1 asks the
    station's dnsmasq for an address: `booted`, with a step of its own."""
    from tests.lab.test_timeline_lab import BOARD, rows_of, station_env, station_for

    pair, journal = station.pair, station.journal
    log = station_for(station, boot_root, package, BOARD, "--verify", "--verify-timeout", "8")
    station.emulate("--seed", "81")  # no --mndp-after: nothing announced on this port
    deadline = time.monotonic() + 60
    while rows_of(journal).get(BOARD, {}).get("outcome") != "rebooted":
        assert time.monotonic() < deadline and log.process.poll() is None, log.text[-2000:]
        time.sleep(0.2)
    # RouterOS up: its DHCP client (a DHCPDISCOVER, not the boot loader's bare BOOTP)
    subprocess.run(["ip", "netns", "exec", pair.board_ns, sys.executable, "-m",
                    "tests.lab.netboot_client", BOARD_IF, "dhcp", "", "--hostname", "line 1",
                    "--timeout", "1"], capture_output=True, timeout=30, env=station_env(),
                   check=True)
    while rows_of(journal)[BOARD]["outcome"] == "rebooted":
        assert time.monotonic() < deadline and log.process.poll() is None, log.text[-2000:]
        time.sleep(0.2)
    log.process.send_signal(signal.SIGTERM)
    log.finish()
    row = rows_of(journal)[BOARD]
    assert row["outcome"] == "booted", row
    assert row["reason"].startswith("came up and asked for an address")
    assert "its version was not announced on this port: docs/verify.md" in row["reason"]
    steps = json.loads(row["timeline"])
    assert [s["event"] for s in steps][-3:] == ["rebooted", "dhcp-after-boot", "booted"]
    # dnsmasq logs no host name for a client it does not answer: the step says so
    assert steps[-2]["detail"] == "no host name logged"
    assert "in service: 1 booted" in log.text
    assert "unverified" not in row["outcome"]
