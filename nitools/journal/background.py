"""The journal writer in a thread of its own: the flashing loop hands it each event (a
queue put) and never waits on a disk's fsync or a database's round trip."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from nitools.journal.tally import RunTally
from nitools.journal.writer import JournalWriter

log = logging.getLogger("nitools.journal")
_STOP = object()
IDLE_FLUSH = 1.0  # with nothing to write, rows kept after a failure are retried this often


class BackgroundWriter:
    """A JournalWriter's interface; events are written in order, off the loop thread."""

    REFUSALS_PER_SECOND = JournalWriter.REFUSALS_PER_SECOND

    def __init__(self, writer: JournalWriter) -> None:
        self.writer = writer
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="journal", daemon=True)
        self._thread.start()

    def __call__(self, event: Any) -> None:
        self._queue.put(event)

    def flush(self) -> None:
        """The thread retries on its own; nothing for the loop to do."""

    def installed_before(self, software_id: str, mac: str) -> int | None:
        return self.writer.installed_before(software_id, mac)  # a read: the store locks

    @property
    def tally(self) -> RunTally:
        """Read it once close() returned: the thread writes it until then."""
        return self.writer.tally

    @property
    def refusals_not_journaled(self) -> int:
        return self.writer.refusals_not_journaled

    @property
    def releases_not_journaled(self) -> int:
        return self.writer.releases_not_journaled

    @property
    def silent_not_journaled(self) -> int:
        return self.writer.silent_not_journaled

    def close(self) -> None:
        """Every event handed over is written (or spooled) before this returns."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self.writer.close()

    def _work(self) -> None:
        while True:
            try:
                event = self._queue.get(timeout=IDLE_FLUSH)
            except queue.Empty:
                self.writer.flush()
                continue
            if event is _STOP:
                return
            try:
                self.writer(event)
            except Exception:  # a bug in one record must not stop the journal
                log.exception("journal: cannot record %r", event)
