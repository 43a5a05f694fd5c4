"""Soak: many installs in rounds against emulated boards with loss, duplication and
boards that restart mid-install; every journal row is checked against what the
boards really went through. Used by ``benchmarks/soak.py`` and by the lab test.

Truth (from each emulator's summary): a board "really rebooted" when it took TERM
and holds every file byte-identical. A journal row "rebooted" for any other board is
a false success, the worst failure a station can have.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO, NetnsPair


@dataclass
class SoakResult:
    installs: int = 0  # boards that took part
    outcomes: Counter[str] = field(default_factory=Counter)  # journal rows by outcome
    truth: Counter[str] = field(default_factory=Counter)  # boards by their final state
    false_successes: list[str] = field(default_factory=list)
    missed_successes: list[str] = field(default_factory=list)  # rebooted, journal disagrees
    failures_without_reason: int = 0
    resets: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"installs: {self.installs} boards in {self.seconds:.0f} s; "
            f"{self.resets} restarted mid-install",
            f"journal rows by outcome: {dict(sorted(self.outcomes.items()))}",
            f"boards by what really happened: {dict(sorted(self.truth.items()))}",
            f"false successes: {len(self.false_successes)} (must be 0) "
            f"{self.false_successes[:5]}",
            f"rebooted boards the journal does not say rebooted: "
            f"{len(self.missed_successes)} {self.missed_successes[:5]}",
            f"failure rows without a reason: {self.failures_without_reason}",
        ]


def run_soak(pair: NetnsPair, folder: Path, rounds: int, boards_per_round: int = 20,
             emulators: int = 4, drop: float = 0.05, duplicate: float = 0.02,
             reset_fraction: float = 0.01, size: int = 1024 * 1024) -> SoakResult:
    package = folder / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=size, seed=77))
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    ini = folder / "soak.ini"
    ini.write_text(f"[nitools]\nfirmware={package}\n")
    journal = folder / "soak.sqlite3"
    result = SoakResult()
    started = time.monotonic()
    per_emulator = boards_per_round // emulators
    for round_number in range(rounds):
        first_row = _last_row(journal)
        processes = [pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--boards",
                                str(per_emulator), "--seed", str(1 + round_number * emulators + i),
                                "--drop", str(drop), "--duplicate", str(duplicate),
                                "--reset-fraction", str(reset_fraction), "--format-time", "0.2",
                                "--timeout", "120")
                     for i in range(emulators)]
        flash = _flash(pair, ini, journal, per_emulator * emulators)
        flash.wait(300)
        summaries = []
        for process in processes:
            try:
                stdout, _ = process.communicate(timeout=15)
            except subprocess.TimeoutExpired:  # a board that will never finish
                process.send_signal(signal.SIGTERM)
                stdout, _ = process.communicate(timeout=15)
            summaries += json.loads(stdout)["boards"]
        _judge(result, summaries, _rows_since(journal, first_row), digest)
    result.seconds = time.monotonic() - started
    return result


def _flash(pair: NetnsPair, ini: Path, journal: Path, count: int) -> subprocess.Popen:
    return pair.start(pair.flasher_ns, "flash", "--plain", "-c", str(ini), "-i", FLASHER_IF,
                      "--journal", str(journal), "--count", str(count),
                      stdout=subprocess.DEVNULL)


def _judge(result: SoakResult, boards: list[dict], rows: list[dict], digest: str) -> None:
    by_mac: dict[str, list[dict]] = {}
    for row in rows:
        by_mac.setdefault(row["answered_mac"], []).append(row)
        result.outcomes[row["outcome"]] += 1
        if row["outcome"] in ("failed", "refused", "unconfirmed") and not row["reason"]:
            result.failures_without_reason += 1
    for board in boards:
        result.installs += 1
        result.resets += board["reboots"]
        mac = board["answered_mac"] or board["macs"][0]
        really = board["state"] == "rebooted" and [f["sha256"] for f in board["files"]] == [
            digest]
        result.truth["rebooted, files identical" if really else board["state"]] += 1
        said = [r["outcome"] for r in by_mac.get(mac, [])]
        if "rebooted" in said and not really:
            result.false_successes.append(f"{mac}: journal {said}, board {board['state']}")
        if really and (not said or said[-1] != "rebooted"):
            result.missed_successes.append(f"{mac}: journal {said}")


def _last_row(journal: Path) -> int:
    if not journal.exists():
        return 0
    with sqlite3.connect(journal) as db:
        return db.execute("SELECT COALESCE(MAX(id), 0) FROM attempts").fetchone()[0]


def _rows_since(journal: Path, row: int) -> list[dict]:
    with sqlite3.connect(journal) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM attempts WHERE id > ? ORDER BY id",
                                            (row,))]


if __name__ == "__main__":  # pragma: no cover - use benchmarks/soak.py
    sys.exit(f"run {REPO / 'benchmarks' / 'soak.py'} instead")
