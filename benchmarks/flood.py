"""A station under a flood of forged frames, over a veth pair between namespaces, while
a real emulated board net-boots and must still be flashed. Kinds of flood:

  dscv    10,000 announcements a second, each from a new random MAC, sent once
  double  the same, each announcement sent twice (a board is taken on a repeat)
  wtrm    WTRMs from random MACs (each would be answered with TERM and journaled)
  arch    announcements each with an architecture of its own (metrics labels)
  squat   the real board's own software ID announced from a new MAC each time (ten a
          second by default, --rate): it must still be offered and installed

Prints, per kind: the real board's result and time, the station's peak RSS and CPU,
the journal rows written, the frames the station sent per forged frame and, for arch,
the size of /metrics and its series. Needs root.

    sudo python3 benchmarks/flood.py [--kinds dscv,double,wtrm,arch,squat] [--rate 10000]
                                     [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nitools.emulation.emulator import BoardSpec, make_boards
from nitools.emulation.synthetic import build_npk
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO, NetnsPair


def flood(kind: str, rate: int, seconds: float) -> None:
    pair = NetnsPair.create()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            package = folder / "routeros-7.16.1-arm64.npk"
            package.write_bytes(build_npk("system", "7.16.1", "arm64", size=4 << 20, seed=3))
            ini = folder / "flood.ini"
            ini.write_text(f"[nitools]\nfirmware={package}\n")
            env = dict(os.environ, PYTHONPATH=str(REPO))
            station_mac = pair.mac(pair.flasher_ns, FLASHER_IF).replace(":", "")
            journal = folder / "j.sqlite3"
            # The station's log goes to a file: a pipe nobody reads while the flood runs
            # would fill and hold the station on its next log line.
            log_file = open(folder / "station.log", "w")  # noqa: SIM115 (closed below)
            flash = subprocess.Popen(
                ["ip", "netns", "exec", pair.flasher_ns, sys.executable, "-m", "nitools",
                 "flash", "--plain", "-c", str(ini), "-i", FLASHER_IF, "--journal",
                 str(journal), "--metrics", f"127.0.0.1:{METRICS_PORT}"],
                stderr=log_file, text=True, env=env)
            time.sleep(1.0)
            flooder = subprocess.Popen(
                ["ip", "netns", "exec", pair.board_ns, sys.executable, "-m", "tests.lab.flooder",
                 BOARD_IF, station_mac, str(rate), str(seconds), kind,
                 REAL_BOARD.software_id], stdout=subprocess.PIPE, text=True, env=env)
            time.sleep(5.0)  # the flood is on
            started = time.monotonic()
            board = pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--seed", "5",
                               "--format-time", "0.2", "--timeout", str(seconds))
            summary = json.loads(board.communicate(timeout=seconds + 30)[0])
            took = time.monotonic() - started
            sent = json.loads(flooder.communicate(timeout=seconds + 30)[0])
            metrics = subprocess.run(
                ["ip", "netns", "exec", pair.flasher_ns, sys.executable, "-c",
                 f"import urllib.request; print(urllib.request.urlopen("
                 f"'http://127.0.0.1:{METRICS_PORT}/metrics', timeout=10).read().decode())"],
                capture_output=True, text=True, timeout=30).stdout
            flash.send_signal(signal.SIGTERM)
            _, status, usage = os.wait4(flash.pid, 0)
            log_file.close()
            log = (folder / "station.log").read_text()
            with sqlite3.connect(journal) as db:
                rows = dict(db.execute("SELECT outcome, COUNT(*) FROM attempts GROUP BY outcome"))
    finally:
        pair.destroy()
    (real,) = summary["boards"]
    installs = [line for line in metrics.splitlines()
                if line.startswith("nitools_installs_total{")]
    print(f"[{kind}] {sent['sent']} forged frames in {seconds:g} s "
          f"({sent['sent'] / seconds:.0f}/s)")
    print(f"[{kind}] the real board: {real['state']} after {took:.1f} s "
          f"(files {'complete' if real['installed'] else 'NOT complete'})")
    print(f"[{kind}] station: peak RSS {usage.ru_maxrss / 1024:.0f} MB, CPU "
          f"{usage.ru_utime + usage.ru_stime:.1f} s, exit "
          f"{os.waitstatus_to_exitcode(status)}, {log.count('Traceback')} tracebacks")
    print(f"[{kind}] journal rows written: {sum(rows.values())} {rows}; "
          f"{_counted(log)}")
    print(f"[{kind}] frames the station sent to forged MACs: "
          f"{sent['station_frames_to_fakes']} = "
          f"{sent['station_frames_to_fakes'] / max(sent['sent'], 1):.4f} per forged frame")
    print(f"[{kind}] /metrics: {len(metrics)} bytes, {len(installs)} install series")


def _counted(log: str) -> str:
    lines = [line for line in log.splitlines() if "counted, not journaled" in line]
    return lines[-1].split("journal: ", 1)[-1] if lines else "none counted instead"


METRICS_PORT = 9431
# The emulated board that must be flashed under the flood (emulate --seed 5).
REAL_BOARD = make_boards(BoardSpec(), 1, seed=5)[0].announcement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="dscv,double,wtrm,arch,squat")
    parser.add_argument("--rate", type=int, help="forged frames a second (default: 10,000; "
                        "squat: 10)")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    for kind in args.kinds.split(","):
        flood(kind, args.rate or (10 if kind == "squat" else 10_000), args.seconds)


if __name__ == "__main__":
    main()
