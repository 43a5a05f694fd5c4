"""Wall time and peak RSS of `nitools extract` on a synthetic ~60 MB netinstall64.exe.

Payload sizes follow the real images (3 to 8 MB each). The exe is built with the
project's shared pure-Python generators (../shared/tools/bootimage-fixtures); no
MikroTik bytes. Target: at most 0.5 s and 150 MB peak RSS.

    python3 benchmarks/extract.py [--runs 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENERATORS = REPO.parent / "shared" / "tools" / "bootimage-fixtures"
# (resource id, payload file from mkelf.py, megabytes)
# The x86 stand-in has a fixed size of 1 KB; the eight ELF images carry the weight.
LAYOUT = [(129, "ppc-e300", 8), (130, "ppc-e500", 8), (131, "mipsbe", 8), (135, "ppc-440", 8),
          (136, "tile", 7), (137, "arm", 5), (138, "mmips", 8), (139, "arm64", 8),
          (143, "x86-pxe", 0)]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, GENERATORS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(folder: Path) -> Path:
    mkelf, mkpe = load("mkelf"), load("mkpe")
    entries = []
    for resource_id, name, megabytes in LAYOUT:
        target = folder / f"{name}.bin"
        mkelf.main([name, str(target)] + ([str(megabytes * 1_000_000)] if megabytes else []))
        entries.append(f"{resource_id}={target}")
    exe = folder / "netinstall64-7.16.1.exe"
    mkpe.main([str(exe), *entries, "--bits", "64", "--version", "7.16.1"])
    return exe


def measure(exe: Path, out: Path) -> tuple[float, float]:
    """One run in a fresh process: (seconds, peak RSS in MB)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child becomes `nitools extract`, so its RSS is measured alone
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the table is not part of the measurement's output
        os.execve(sys.executable, [sys.executable, "-m", "nitools", "extract", "--force",
                                   "-o", str(out), str(exe)], env)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("nitools extract failed")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not GENERATORS.exists():
        raise SystemExit(f"needs the shared fixture generators at {GENERATORS}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        exe = build(folder)
        print(f"input: {exe.name}, {exe.stat().st_size / 1e6:.1f} MB, "
              f"{len(LAYOUT)} images")
        times, peaks = [], []
        for run in range(args.runs):
            # A fresh folder each run (full writes), and no dirty pages left from the last
            # run: the kernel throttles writers while earlier runs' data is written back.
            shutil.rmtree(folder / f"out{run - 1}", ignore_errors=True)
            os.sync()
            elapsed, peak = measure(exe, folder / f"out{run}")
            times.append(elapsed)
            peaks.append(peak)
        print(f"wall time: median {statistics.median(times):.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f}) over {args.runs} runs; "
              "target <= 0.5 s")
        print(f"peak RSS:  median {statistics.median(peaks):.0f} MB (max {max(peaks):.0f}); "
              "target <= 150 MB")


if __name__ == "__main__":
    main()
