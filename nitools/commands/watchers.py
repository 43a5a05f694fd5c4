"""Everything that follows a station's events: the terminal, the journal (in its own
thread), metrics, the web view's board table and the heartbeat. None reaches back into
a session; each takes what it shows or records from the events themselves."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nitools.journal.attempts import Journal
from nitools.journal.background import BackgroundWriter
from nitools.journal.spool import spool_path
from nitools.journal.writer import JournalWriter
from nitools.monitor.health import Heartbeat
from nitools.monitor.ui import LogReporter
from nitools.netinstall.events import BoardEvent
from nitools.station.setup.options import StationOptions

log = logging.getLogger("nitools.flash")


@dataclass
class Watchers:
    reporter: LogReporter
    journal: JournalWriter | BackgroundWriter | None = None
    metrics: Callable[[BoardEvent], None] | None = None
    heartbeat: Heartbeat | None = None
    others: tuple[Callable[[BoardEvent], None], ...] = ()  # e.g. the web view's board table

    def event(self, event: BoardEvent) -> None:
        if self.journal is not None:
            self.journal(event)
        if self.metrics is not None:
            self.metrics(event)
        for other in self.others:
            other(event)
        self.reporter.event(event)

    def tick(self) -> None:
        self.reporter.tick()
        if self.journal is not None:
            self.journal.flush()
        if self.heartbeat is not None:
            self.heartbeat.beat()

    def installed_before(self, software_id: str, mac: str) -> int | None:
        """``--once``: the journal row showing this board installed, if any."""
        return self.journal.installed_before(software_id, mac) if self.journal else None

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.journal is not None:
            self.journal.close()  # whatever ended the loop, every record is written or kept
            journal = self.journal
            skipped = (journal.refusals_not_journaled + journal.releases_not_journaled
                       + journal.silent_not_journaled)
            journal.tally.not_journaled = skipped
            if skipped:
                log.warning("journal: %d rows of boards that never answered (%d refused or "
                            "ignoring offers, %d released, %d silent) were counted, not "
                            "journaled: more than %g a second, a flood?", skipped,
                            journal.refusals_not_journaled, journal.releases_not_journaled,
                            journal.silent_not_journaled, journal.REFUSALS_PER_SECOND)


    def summary(self) -> list[str]:
        """The closing summary from this run's journal rows (after close())."""
        if self.journal is None:
            return []
        return self.journal.tally.lines()


def start_watchers(options: StationOptions, journal: Journal, reporter: LogReporter,
                   web: Any, service: Callable[[BoardEvent], None] | None = None) -> Watchers:
    """The watchers a run's options ask for, started (metrics served, web view up);
    ``service``: what the station's own services follow (the lease keeper)."""
    writer = JournalWriter(journal)
    writer.spool = spool_path(journal.station)
    if web is not None:
        web.start()
    metrics = None
    if options.metrics:
        from nitools.monitor.metrics import StationMetrics

        metrics = StationMetrics()
        metrics.serve(options.metrics)
        writer.on_failure = metrics.journal_failures.inc
    heartbeat = Heartbeat(options.health_file) if options.health_file else None
    if heartbeat is not None:
        heartbeat.first_beat()
    others = tuple(watcher for watcher in (web.boards if web is not None else None, service)
                   if watcher is not None)
    return Watchers(reporter, BackgroundWriter(writer),  # fsyncs and database trips off the loop
                    metrics, heartbeat, others)
