"""A whole shift's addresses: `nitools station` with the real dnsmasq and its default range
(half of a /24: 127 addresses) serves 1,000 distinct boards in one run, in waves of 100,
each board asking BOOTP and then installing. Prints the wall time, the station's CPU and
peak RSS, the addresses handed out and given back, and whether any board found the range
full. Needs root and dnsmasq.

    sudo python3 benchmarks/leases.py [--boards 1000] [--wave 100]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nitools.emulation.synthetic import build_npk
from nitools.wire.link import local_admin_mac
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO, NetnsPair


def bootp(pair: NetnsPair, macs: list[bytes]) -> dict[str, str | None]:
    result = subprocess.run(
        ["ip", "netns", "exec", pair.board_ns, sys.executable, "-m", "tests.lab.bootp_many",
         BOARD_IF, *(mac.hex() for mac in macs)], capture_output=True, text=True,
        timeout=600, env=dict(os.environ, PYTHONPATH=str(REPO)), check=True)
    return json.loads(result.stdout)


def rebooted(journal: Path) -> int:
    try:
        with sqlite3.connect(journal) as db:
            return db.execute("SELECT COUNT(*) FROM attempts WHERE outcome = 'rebooted'"
                              ).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def run(boards: int, wave: int) -> None:
    pair = NetnsPair.create()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            os.chmod(folder, 0o755)
            boot = folder / "tftp"
            boot.mkdir(mode=0o755)
            (boot / "netinstall.arm64").write_bytes(os.urandom(200_000))
            (boot / "netinstall.arm64").chmod(0o644)
            package = folder / "routeros-7.16.1-arm64.npk"
            package.write_bytes(build_npk("system", "7.16.1", "arm64", size=150_000, seed=8))
            journal = folder / "journal.sqlite3"
            subprocess.run(["ip", "-n", pair.flasher_ns, "addr", "add", "192.0.2.1/24", "dev",
                            FLASHER_IF], check=True)
            log_file = open(folder / "station.log", "w")  # noqa: SIM115 (closed below)
            station = subprocess.Popen(
                ["ip", "netns", "exec", pair.flasher_ns, sys.executable, "-m", "nitools",
                 "station", "--plain", "--count", str(boards), "--no-mndp", "-i", FLASHER_IF,
                 "--tftp-root", str(boot), "--journal", str(journal), "-r", str(package)],
                stderr=log_file, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
            deadline = time.monotonic() + 30
            while "listening on interface" not in (folder / "station.log").read_text():
                assert time.monotonic() < deadline and station.poll() is None, "no station"
                time.sleep(0.1)
            started = time.monotonic()
            handed_out: list[str | None] = []
            for number, first in enumerate(range(0, boards, wave)):
                count = min(wave, boards - first)
                seed = 200 + number
                macs = [local_admin_mac(seed * 4096 + index * 16 + 1) for index in range(count)]
                handed_out += bootp(pair, macs).values()
                emulator = pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--seed",
                                      str(seed), "--boards", str(count), "--format-time",
                                      "0.2", "--timeout", "120")
                while rebooted(journal) < first + count:
                    assert time.monotonic() - started < 1800, "too slow"
                    time.sleep(0.2)
                emulator.terminate()  # its boards rebooted; they would linger answering
                emulator.communicate(timeout=30)  # drains its pipes as it ends
            _, status, usage = os.wait4(station.pid, 0)
            wall = time.monotonic() - started
            log_file.close()
            log = (folder / "station.log").read_text()
            done = rebooted(journal)
    finally:
        pair.destroy()
    given_back = re.search(r"(\d+) addresses given back", log)
    print(f"[leases] {boards} boards in waves of {wave}: {done} rebooted, station exit "
          f"{os.waitstatus_to_exitcode(status)}, wall {wall:.1f} s")
    print(f"[leases] station CPU {usage.ru_utime + usage.ru_stime:.1f} s, peak RSS "
          f"{usage.ru_maxrss / 1024:.0f} MB")
    print(f"[leases] addresses handed out {sum(a is not None for a in handed_out)} of "
          f"{len(handed_out)} asked ({len(set(handed_out) - {None})} distinct, range 127); "
          f"given back {given_back.group(1) if given_back else 0}; range full said: "
          f"{'yes' if 'address range is full' in log else 'no'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boards", type=int, default=1000)
    parser.add_argument("--wave", type=int, default=100)
    args = parser.parse_args()
    run(args.boards, args.wave)


if __name__ == "__main__":
    main()
