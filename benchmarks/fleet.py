"""Many boards at once over a veth pair between namespaces: 200 boards x 1 MiB at 1 %
frame loss, and 100 boards x 1 MiB at 5 % loss. The boards are emulated by several
processes so the emulator side is not the bottleneck. Prints, per scenario: boards
rebooted (journal and emulator truth), wall time, retransmitted frames as a share of
frames sent (goal <= 10 %), station CPU seconds per MB, station peak RSS (goal <= 100 MB).
Needs root.

    sudo python3 benchmarks/fleet.py [--only 200,100] [--emulators 8]
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
from nitools.netinstall.protocol import frame_count
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO, NetnsPair

MiB = 1024 * 1024
RESENT = re.compile(r"(\d+) frames resent, (\d+) of them on our timer")


def scenario(pair: NetnsPair, folder: Path, boards: int, drop: float, emulators: int) -> None:
    package = folder / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=MiB, seed=9))
    ini = folder / "fleet.ini"
    ini.write_text(f"[nitools]\nfirmware={package}\n")
    journal = folder / f"fleet-{boards}.sqlite3"
    shares = [boards // emulators + (i < boards % emulators) for i in range(emulators)]
    processes = [pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--boards", str(per),
                            "--seed", str(100 + boards + i), "--drop", str(drop),
                            "--format-time", "0.2", "--timeout", "600")
                 for i, per in enumerate(shares) if per]
    time.sleep(1.0)  # let every emulator start announcing
    command = ["ip", "netns", "exec", pair.flasher_ns, sys.executable, "-m", "nitools",
               "flash", "--plain", "-c", str(ini), "-i", FLASHER_IF, "--journal",
               str(journal), "--count", str(boards)]
    started = time.monotonic()
    flash = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    log = flash.stderr.read()
    _, status, usage = os.wait4(flash.pid, 0)
    wall = time.monotonic() - started
    truth = [b for p in processes for b in json.loads(p.communicate(timeout=120)[0])["boards"]]
    with sqlite3.connect(journal) as db:
        outcomes = [r[0] for r in db.execute("SELECT outcome FROM attempts")]
    resent = sum(int(m[0]) for m in RESENT.findall(log))
    on_timer = sum(int(m[1]) for m in RESENT.findall(log))
    ideal = frame_count([MiB + 145]) * len(truth)  # the synthetic package's exact size
    cpu = usage.ru_utime + usage.ru_stime
    print(f"[fleet] {len(truth)} boards x 1 MiB, {drop:.0%} loss: "
          f"{outcomes.count('rebooted')}/{len(truth)} journaled rebooted, "
          f"{sum(b['installed'] for b in truth)}/{len(truth)} really rebooted; "
          f"exit {os.waitstatus_to_exitcode(status)}; wall {wall:.1f} s")
    print(f"[fleet]   retransmitted {resent} frames = {resent / (ideal + resent):.1%} of "
          f"frames sent (goal <= 10 %; {on_timer} on the station's timer, the rest on the "
          f"boards' repeats); station CPU {cpu:.1f} s = "
          f"{cpu / (len(truth) * MiB / 1e6):.3f} s/MB; peak RSS "
          f"{usage.ru_maxrss / 1024:.0f} MB (goal <= 100 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="200,100")
    parser.add_argument("--emulators", type=int, default=8)
    args = parser.parse_args()
    plans = {"200": (200, 0.01), "100": (100, 0.05)}
    pair = NetnsPair.create()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.only.split(","):
                boards, drop = plans[name]
                scenario(pair, Path(tmp), boards, drop, args.emulators)
    finally:
        pair.destroy()


if __name__ == "__main__":
    main()
