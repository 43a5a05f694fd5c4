"""How often the .rsc linter agrees with RouterOS's own parser.

DIR holds scripts that a real RouterOS parsed without a syntax error, with a
``parsed-by-routeros.json`` that lists them (file -> versions that accepted it); without
that file every ``*.rsc`` under DIR counts as accepted. Every listed script goes through
``nitools validate --json`` (each linted as a script on its own), and this prints the
agreement (scripts with an error finding / scripts), the commonest errors and warnings,
and exits 1 on any error finding: RouterOS accepted each script, so an error is a false
alarm that would refuse a board.

    python3 benchmarks/rsc_agreement.py DIR
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ACCEPTED_LIST = "parsed-by-routeros.json"
BATCH = 200  # scripts per validate run: keeps each command line short


def accepted_scripts(folder: Path) -> list[Path]:
    listing = folder / ACCEPTED_LIST
    if listing.is_file():
        return [folder / name for name in sorted(json.loads(listing.read_text()))]
    return sorted(folder.rglob("*.rsc"))


def validate(scripts: list[Path]) -> dict:
    """One ``nitools validate --json`` over the scripts (exit 1 just means errors)."""
    done = subprocess.run([sys.executable, "-m", "nitools", "validate", "--json",
                           *map(str, scripts)], capture_output=True, text=True, cwd=REPO)
    if done.returncode not in (0, 1):
        raise SystemExit(f"nitools validate failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def finding_kind(message: str) -> str:
    """A finding's message without what is particular to one place (quoted text)."""
    return re.sub(r"'[^']*'|\\\S+", "…", message.split(":")[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, metavar="DIR")
    args = parser.parse_args()
    scripts = accepted_scripts(args.folder)
    if not scripts:
        raise SystemExit(f"no scripts in {args.folder}: give a folder of .rsc files")
    started = time.perf_counter()
    records, findings = [], []
    for first in range(0, len(scripts), BATCH):
        answer = validate(scripts[first:first + BATCH])
        records += answer["scripts"]
        findings += answer["findings"]
    seconds = time.perf_counter() - started
    with_error = [r["file"] for r in records if r["errors"]]
    print(f"scripts RouterOS accepted: {len(records)} (linted in {seconds:.1f} s)")
    print(f"scripts with an error finding: {len(with_error)} / {len(records)} "
          f"(agreement {100 * (1 - len(with_error) / len(records)):.1f} %)")
    print(f"scripts with a warning: {sum(bool(r['warnings']) for r in records)}")
    for level in ("error", "warning"):
        counts = Counter(finding_kind(f["message"]) for f in findings if f["level"] == level)
        print(f"commonest {level} findings:" if counts else f"no {level} findings")
        for kind, count in counts.most_common(8):
            print(f"  {count:5d}  {kind}")
    for name in with_error[:20]:
        print(f"error in: {Path(name).relative_to(args.folder)}")
    return 1 if with_error else 0


if __name__ == "__main__":
    sys.exit(main())
