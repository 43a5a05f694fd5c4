"""One board, one 16 MiB package over a veth pair (real broadcast): upload throughput
of `nitools flash` without the web view, with it and no viewer, and with a headless
Chromium watching the live page (Selenium, inside the station's namespace). Needs root,
chromium and chromium-driver. Prints its figures.

    sudo python3 benchmarks/web.py [--size-mib 16] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO, NetnsPair

RATE = re.compile(r"upload ([0-9.]+) MB/s")


def one_run(pair: NetnsPair, package: Path, mode: str, shot: Path) -> float:
    web = ["--web", "8080"] if mode != "no web view" else []
    flasher = pair.start(pair.flasher_ns, "flash", "-1", "--plain", "-i", FLASHER_IF,
                         "--journal", str(package.parent / "j.sqlite3"), *web, str(package))
    browser = None
    if mode == "event stream reader":
        time.sleep(0.5)
        browser = subprocess.Popen(["ip", "netns", "exec", pair.flasher_ns, "curl", "-sN",
                                    "--max-time", "60", "http://127.0.0.1:8080/events"],
                                   stdout=subprocess.DEVNULL)
    if mode == "browser watching":
        time.sleep(0.5)  # the view is up before the page loads
        browser = subprocess.Popen(
            ["ip", "netns", "exec", pair.flasher_ns, sys.executable, "-m", "tests.lab.browse",
             "http://127.0.0.1:8080/", str(shot), "120"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(REPO)))
        time.sleep(3)  # Chromium started and the event stream open
    board = pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--format-time", "0",
                       "--timeout", "120")
    _, log = flasher.communicate(timeout=180)
    board.communicate(timeout=30)
    if browser is not None:  # the station has exited: the viewer goes too
        browser.terminate()
        browser.communicate(timeout=60)
    match = RATE.search(log)
    if flasher.returncode != 0 or not match:
        raise SystemExit(f"flash failed ({mode}):\n{log}")
    return float(match[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=float, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "routeros-7.16.1-arm64.npk"
        package.write_bytes(build_npk(size=int(args.size_mib * 1024 * 1024), seed=1))
        pair = NetnsPair.create()
        try:
            print(f"package: {package.stat().st_size} bytes, veth pair between namespaces")
            for mode in ("no web view", "web view, no viewer", "event stream reader",
                         "browser watching"):
                rates = [one_run(pair, package, mode, Path(tmp) / "shot.png")
                         for _ in range(args.runs)]
                print(f"{mode:22s} upload MB/s: median {statistics.median(rates):.1f} "
                      f"(runs: {', '.join(f'{r:.1f}' for r in rates)})")
        finally:
            pair.destroy()


if __name__ == "__main__":
    main()
