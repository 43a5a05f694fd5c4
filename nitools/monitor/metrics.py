"""Prometheus metrics of a station, fed by its events (optional: ``nitools[metrics]``).

``nitools flash --metrics [ADDR:]PORT`` serves the text format at ``/metrics``
(127.0.0.1 unless an address is given). Everything comes from the station's events,
the one record of what happened; nothing here reaches into a session.
"""

from __future__ import annotations

import threading
from typing import Any

from nitools.bounded import Bounded
from nitools.errors import UsageError
from nitools.monitor.bounded_http import BoundedHTTPServer
from nitools.netinstall import events
from nitools.routeros.archs import family_for_announcement

REMEMBERED = 4096  # rebooted boards whose architecture is kept for their InService
DURATION_BUCKETS = (5, 10, 20, 30, 60, 120, 180, 300, 600)


def arch_label(announced: str) -> str:
    """A known architecture family, else ``other``: a label takes no value a stranger's
    frame chose (every new value would be a new series, without bound)."""
    family = family_for_announcement(announced)
    return family.name if family is not None else "other"


def parse_listen(spec: str, option: str = "--metrics") -> tuple[str, int]:
    """``PORT`` or ``ADDR:PORT``; loopback unless an address is given."""
    address, _, port = spec.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = 0
    if not 0 < number < 65536:
        raise UsageError(f"{option} wants [ADDR:]PORT, not '{spec}'")
    return address or "127.0.0.1", number


class StationMetrics:
    """Counters, gauges and a histogram in their own registry."""

    def __init__(self) -> None:
        try:
            import prometheus_client as prometheus
        except ImportError:
            raise UsageError("--metrics needs prometheus_client: pip install "
                             "'nitools[metrics]'") from None
        self._prometheus = prometheus
        self.registry = prometheus.CollectorRegistry()
        self.installs = prometheus.Counter(
            "nitools_installs", "Attempts that ended, by outcome, board architecture family "
            "(other: not a known family) and cause (none: rebooted)",
            ("outcome", "arch", "cause"), registry=self.registry)
        self.bytes_sent = prometheus.Counter(
            "nitools_bytes_sent", "File bytes the boards acknowledged", registry=self.registry)
        self.frames_resent = prometheus.Counter(
            "nitools_frames_resent", "Frames sent again", registry=self.registry)
        self.boards = prometheus.Gauge(
            "nitools_boards", "Boards in each phase now", ("phase",), registry=self.registry)
        self.duration = prometheus.Histogram(
            "nitools_install_duration_seconds", "Seconds from announcement to outcome",
            buckets=DURATION_BUCKETS, registry=self.registry)
        self.silent = prometheus.Counter(
            "nitools_silent_boards", "Boards that got their boot image (TFTP) and never "
            "announced themselves in netinstall ('nitools station')", registry=self.registry)
        self.journal_failures = prometheus.Counter(
            "nitools_journal_write_failures", "Journal writes that failed (rows are kept in "
            "memory and written later)", registry=self.registry)
        for phase in events.BoardPhase:
            self.boards.labels(phase.value).set(0)
        self._phase: dict[bytes, events.BoardPhase] = {}
        self._arch: dict[bytes, str] = {}
        self._rebooted: Bounded[bytes, str] = Bounded(REMEMBERED)  # arch, awaited in service

    def serve(self, spec: str) -> BoundedHTTPServer:
        """Serve /metrics from a thread of its own (bounded: a crowd of idle scrapers
        cannot take the station's threads)."""
        from prometheus_client.exposition import MetricsHandler

        address, port = parse_listen(spec)
        try:
            server = BoundedHTTPServer((address, port), MetricsHandler.factory(self.registry))
        except OSError as exc:
            raise UsageError(f"cannot serve metrics on {address}:{port}: {exc.strerror}") \
                from exc
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        return server

    def __call__(self, event: Any) -> None:
        if isinstance(event, events.Found):
            self._arch[event.mac] = arch_label(event.announcement.arch)
        phase = events.PHASE_AFTER.get(type(event))
        if phase is not None:
            self._move(event.mac, phase)
        if isinstance(event, events.Silent):
            self.silent.inc()
            self.installs.labels(events.Outcome.SILENT.value, "other", event.cause.value).inc()
        if isinstance(event, events.InService):
            # Counted again under what the board announced after its reboot (verified,
            # wrong-version, unverified); a board not seen but not required adds nothing.
            arch = self._rebooted.pop(event.mac, "other")
            if event.outcome is not events.Outcome.REBOOTED:
                self.installs.labels(event.outcome.value, arch, "none").inc()
        if isinstance(event, events.Skipped):  # left alone after it was found
            self._move(event.mac, None)
            self._arch.pop(event.mac, None)
        if isinstance(event, events.Finished):
            self._move(event.mac, None)
            arch = self._arch.pop(event.mac, "other")
            if event.outcome is events.Outcome.REBOOTED:
                self._rebooted.put(event.mac, arch)
            cause = event.cause.value if event.cause is not None else "none"
            self.installs.labels(event.outcome.value, arch, cause).inc()
            self.bytes_sent.inc(event.bytes_acked)
            self.frames_resent.inc(event.retransmissions)
            self.duration.observe(event.seconds)

    def _move(self, mac: bytes, phase: events.BoardPhase | None) -> None:
        earlier = self._phase.pop(mac, None)
        if earlier is not None:
            self.boards.labels(earlier.value).dec()
        if phase is not None:
            self._phase[mac] = phase
            self.boards.labels(phase.value).inc()
