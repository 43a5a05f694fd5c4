"""Soak: 1000 installs (50 rounds of 20 boards) over a veth pair between namespaces,
with 5 % frame loss, 2 % duplication and 1 % of boards restarting mid-install.
Every journal row is checked against what the emulated boards really went
through; prints the counts and the false successes (must be 0). Needs root.

    sudo python3 benchmarks/soak.py [--rounds 50] [--boards 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.lab.netns import NetnsPair
from tests.lab.soak import run_soak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--boards", type=int, default=20, help="boards per round")
    args = parser.parse_args()
    pair = NetnsPair.create()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_soak(pair, Path(tmp), args.rounds, args.boards)
    finally:
        pair.destroy()
    for line in result.lines():
        print(f"[soak] {line}")
    sys.exit(1 if result.false_successes else 0)


if __name__ == "__main__":
    main()
