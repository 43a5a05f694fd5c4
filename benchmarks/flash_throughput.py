"""One board, one 16 MiB system package, over a veth pair between two network
namespaces (real UDP broadcast): upload throughput of `nitools flash`, with
stop-and-wait and with windows. Needs root. Prints its figures.

    sudo python3 benchmarks/flash_throughput.py [--size-mib 16] [--windows 1,8]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import BOARD_IF, FLASHER_IF, NetnsPair

RATE = re.compile(r"upload ([0-9.]+) MB/s")


def one_run(pair: NetnsPair, ini: Path, window: int) -> tuple[float, float]:
    board = pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--format-time", "0",
                       "--timeout", "120")
    started = time.monotonic()
    flasher = pair.start(pair.flasher_ns, "flash", "-1", "--plain", "-c", str(ini),
                         "-i", FLASHER_IF, "--window", str(window))
    _, log = flasher.communicate(timeout=180)
    elapsed = time.monotonic() - started
    board.communicate(timeout=30)
    if flasher.returncode != 0:
        raise SystemExit(f"flash failed (window {window}):\n{log}")
    match = RATE.search(log)
    if not match:
        raise SystemExit(f"no upload rate in the log:\n{log}")
    return float(match[1]), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=float, default=16)
    parser.add_argument("--windows", default="1,8")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "routeros-7.16.1-arm64.npk"
        package.write_bytes(build_npk(size=int(args.size_mib * 1024 * 1024), seed=1))
        ini = Path(tmp) / "bench.ini"
        ini.write_text(f"[nitools]\nfirmware={package}\n")
        pair = NetnsPair.create()
        try:
            print(f"package: {package.stat().st_size} bytes, veth pair between namespaces")
            for window in (int(w) for w in args.windows.split(",")):
                rates = []
                for _ in range(args.runs):
                    rate, elapsed = one_run(pair, ini, window)
                    rates.append(rate)
                    pair.processes.clear()
                best, worst = max(rates), min(rates)
                print(f"window {window:>3}: upload {sorted(rates)[len(rates) // 2]:.1f} MB/s "
                      f"median (min {worst:.1f}, max {best:.1f}) over {args.runs} runs; "
                      f"last run {elapsed:.1f} s from start to exit")
        finally:
            pair.destroy()


if __name__ == "__main__":
    main()
