"""A station and its emulated boards in the namespace lab, and their records."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

from tests.lab.netns import BOARD_IF, FLASHER_IF


def ini(folder: Path, body: str) -> Path:
    path = folder / "station.ini"
    path.write_text(textwrap.dedent(body))
    return path


class Station:
    def __init__(self, pair, tmp_path):
        self.pair, self.journal = pair, tmp_path / "journal.sqlite3"
        self.emulators: list = []

    def emulate(self, *args: str, timeout: float = 40):
        process = self.pair.start(self.pair.board_ns, "emulate", "-i", BOARD_IF, "--timeout",
                                  str(timeout), "--format-time", "0.2", *args)
        self.emulators.append(process)
        return process

    def flash(self, config: Path, *args: str):
        return self.pair.start(self.pair.flasher_ns, "flash", "--plain", "-c", str(config),
                               "-i", FLASHER_IF, "--journal", str(self.journal), *args)

    def summaries(self, timeout: float = 60) -> list[dict]:
        out = []
        for process in self.emulators:
            stdout, stderr = process.communicate(timeout=timeout)
            assert stdout, stderr
            out += json.loads(stdout)["boards"]
        return out

    def rows(self) -> list[dict]:
        with sqlite3.connect(self.journal) as db:
            db.row_factory = sqlite3.Row
            try:
                return [dict(r) for r in db.execute("SELECT * FROM attempts ORDER BY id")]
            except sqlite3.OperationalError:  # polled while the station creates the schema
                return []
