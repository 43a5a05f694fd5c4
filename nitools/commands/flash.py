"""``nitools flash``: wire the options, plugins, link, journal, station core, runner
and the watchers (terminal, journal, metrics, web view, heartbeat) together."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nitools.console import install_stop_handlers, setup_logging
from nitools.errors import LinkError, UsageError
from nitools.journal.attempts import Journal, JournalError, default_path
from nitools.journal.background import BackgroundWriter
from nitools.journal.spool import replay, spool_path
from nitools.journal.writer import JournalWriter
from nitools.monitor.health import Heartbeat
from nitools.monitor.ui import LogReporter, make_reporter
from nitools.netinstall.frame import format_mac
from nitools.station.setup.config import StationConfig, station_name
from nitools.station.engine.core import PrepareRequest, StationCore, StationResult
from nitools.wire.link import (
    BroadcastLink,
    LoopbackLink,
    local_admin_mac,
    parse_loopback,
    resolve_interface,
)
from nitools.wire.mndp_link import ASK_EVERY, MndpListener
from nitools.station.setup.options import StationOptions, netinstall_cli_meaning
from nitools.station.plan.payload import PayloadCache
from nitools.wire.ports import PortGroup
from nitools.station.setup.preflight import preflight, raise_problems
from nitools.station.plan.prepare import (
    InstalledBefore,
    InstallPlan,
    Refusal,
    check_station_inputs,
    prepare_or_refuse,
)
from nitools.wire.runner import Link, Runner
from nitools.station.setup.port_setup import StationSetup, station_setup

log = logging.getLogger("nitools.flash")

# ``nitools station``'s services (preflight, dnsmasq): started with a way to stop the
# station (a dying dnsmasq uses it), they return what stops them.
# They also get where to hand what dnsmasq did for each board (``Sighting``s).
Services = Callable[[Callable[[], None], Callable[[Any], None]], Callable[[], None]]
SIGHTINGS_PER_TURN = 1024  # what dnsmasq saw, taken into the loop per turn at most


class StopRelay:
    """A stop asked for from another thread, before or after the loop exists: delivered
    to the runner as a signal's would be (the stop grace applies)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: Callable[[], None] | None = None
        self._pending = False

    def request(self) -> None:
        with self._lock:
            if self._target is None:
                self._pending = True
                return
            target = self._target
        target()

    def connect(self, target: Callable[[], None]) -> None:
        with self._lock:
            self._target = target
            pending, self._pending = self._pending, False
        if pending:
            target()


@dataclass
class Watchers:
    """Everything that follows the station's events; none reaches back into a session."""

    reporter: LogReporter
    journal: JournalWriter | BackgroundWriter | None = None
    metrics: Callable[[Any], None] | None = None
    heartbeat: Heartbeat | None = None
    others: tuple[Callable[[Any], None], ...] = ()  # e.g. the web view's board table

    def event(self, event: Any) -> None:
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

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.journal is not None:
            self.journal.close()  # whatever ended the loop, every record is written or kept
            skipped = (self.journal.refusals_not_journaled
                       + self.journal.releases_not_journaled)
            if skipped:
                log.warning("journal: %d rows of boards that never answered (%d refused or "
                            "ignoring offers, %d released) were counted, not journaled: more "
                            "than %g a second, a flood?", skipped,
                            self.journal.refusals_not_journaled,
                            self.journal.releases_not_journaled,
                            self.journal.REFUSALS_PER_SECOND)


def run_station(link: Link, core: StationCore, setup: StationSetup, watchers: Watchers,
                cache: PayloadCache | None = None, stop: StopRelay | None = None,
                mndp: MndpListener | None = None,
                sightings: queue.SimpleQueue[Any] | None = None) -> StationResult:
    """Drive the station core on a link until it is done; returns its result. ``mndp``:
    where boards in service are heard (docs/verify.md)."""
    cache = cache or PayloadCache()
    port_of = getattr(link, "port_of", lambda mac: None)

    def prepare(request: PrepareRequest) -> InstallPlan | Refusal | InstalledBefore:
        """In a worker thread; never raises (a bug refuses its board, not the station)."""
        try:
            if request.check_history and watchers.journal is not None:  # --once
                row = watchers.journal.installed_before(request.info.lic_id,
                                                        format_mac(request.mac))
                if row is not None:
                    return InstalledBefore(row)
            port = port_of(request.mac)
            chosen = setup.for_port(port)
            return prepare_or_refuse(chosen.plugin, request.info, chosen.config.defaults,
                                     cache, chosen.releases, chosen.rules, port)
        except Exception as exc:
            log.exception("preparing %s failed", format_mac(request.mac))
            return Refusal(f"preparing files failed: {type(exc).__name__}: {exc} (a bug: "
                           "please report it with the log)")

    link_problem = getattr(link, "problem", None)  # an interface removed under us
    next_check = next_ask = 0.0
    awaited_when_asked = 0

    def listen(now: float) -> None:
        """Boards in service: what they announced goes to the core (a bounded amount per
        turn). While rebooted boards are awaited, ask for announcements every few seconds,
        and at once when another board joins them (it may have announced itself before
        its reboot was confirmed, and RouterOS repeats only once a minute)."""
        nonlocal next_ask, awaited_when_asked
        assert mndp is not None
        for neighbour in mndp.drain():
            core.heard(neighbour, now)
        awaited = core.awaiting_service()
        if awaited and (now >= next_ask or awaited > awaited_when_asked):
            next_ask = now + ASK_EVERY
            mndp.ask()
        awaited_when_asked = awaited

    def take_sightings(now: float) -> None:
        assert sightings is not None
        for _ in range(SIGHTINGS_PER_TURN):
            try:
                core.netboot(sightings.get_nowait(), now)
            except queue.Empty:
                return

    def tick() -> None:
        nonlocal next_check
        if mndp is not None:
            listen(time.monotonic())
        if sightings is not None:
            take_sightings(time.monotonic())
        watchers.tick()
        if link_problem is not None and time.monotonic() >= next_check:
            next_check = time.monotonic() + 1.0
            problem = link_problem()
            if problem is not None:
                raise LinkError(problem)

    runner = Runner(link, core, work=prepare, on_event=watchers.event, on_tick=tick,
                    source_port=getattr(link, "peer_port", None))
    stops = 0

    def request_stop() -> None:
        """Say at once what a stop means, then let the loop stop at its next turn."""
        nonlocal stops
        stops += 1
        running = core.installs_running()
        if stops == 1 and running:
            log.warning("stopping: %d install%s finishing, up to %g s; Ctrl-C again to "
                        "abort", running, "s" if running != 1 else "", core.config.grace)
        elif stops == 1:
            log.warning("stopping")
        elif running:
            log.warning("aborting: %d install%s interrupted", running,
                        "s" if running != 1 else "")
        runner.request_stop()

    def stop_gently() -> None:
        """A service that died (dnsmasq) stops the station once; it never turns a stop
        already under way into an abort (systemd may kill dnsmasq with the station)."""
        if stops == 0:
            request_stop()

    install_stop_handlers(request_stop)
    if stop is not None:
        stop.connect(stop_gently)
    try:
        runner.run()
    finally:
        cache.cancel()  # downloads still running give up: their boards were never offered
        setup.cancel_downloads()
        watchers.close()
    if mndp is not None and (core.service.ignored or mndp.garbage):
        log.info("MNDP: %d announcements of boards not awaited ignored, %d datagrams that "
                 "were no announcement", core.service.ignored, mndp.garbage)
    return core.result


def open_ports(interfaces: tuple[str, ...]) -> BroadcastLink | PortGroup:
    """One interface: its link; several: one port group (each board tied to its port)."""
    if len(interfaces) == 1:
        return BroadcastLink(interfaces[0])
    links: dict[str, BroadcastLink] = {}
    try:
        for interface in interfaces:
            link = BroadcastLink(interface)
            if link.interface in links:
                link.close()
                raise UsageError(f"-i {interface}: interface {link.interface} is given twice")
            links[link.interface] = link
    except BaseException:
        for link in links.values():
            link.close()
        raise
    return PortGroup(links)


def _nothing() -> None:
    pass


def run_flash(options: StationOptions, services: Services | None = None) -> int:
    """Returns the exit code: 0 all installed, 1 a board failed, 130 interrupted.
    ``services`` (``nitools station``: preflight and dnsmasq) start once every setting
    has been checked, before the flashing link opens."""
    options = netinstall_cli_meaning(options)
    reporter = make_reporter(force_plain=options.plain or bool(options.logging_config),
                             log_keys=options.log_keys)
    stop = StopRelay()
    sightings: queue.SimpleQueue[Any] = queue.SimpleQueue()  # from dnsmasq's log readers
    journal = None
    stop_services: Callable[[], None] = _nothing
    stop_web: Callable[[], None] = _nothing
    try:
        setup_logging(options.verbose, options.logging_config, reporter.log_handler())
        setup, cache = _checked_setup(options)  # what can be wrong fails here, no socket open
        config = setup.main.config
        journal = _open_journal(config)
        web = _web_view(options, config.journal or str(default_path()))
        if web is not None:
            stop_web = web.stop
        if services is not None:
            stop_services = services(stop.request, sightings.put)
        elif not config.loopback:  # what 'station' checks first, as far as it applies
            names = [resolve_interface(given)[0] for given in config.interfaces]  # or MACs
            raise_problems(preflight(names, serve_dhcp=False))
        link = _open_link(config)
        install_stop_handlers(stop.request)  # from here a stop is a stop, not a kill
        try:
            log.info("listening on %s as %s (%s); journal %s", link.describe(),
                     format_mac(link.mac), _until(config), journal.path)
            watchers = _watchers(options, link, journal, reporter, web)
            core = StationCore(link.mac, config)
            mndp = _open_mndp(config, link.mac)
            try:
                result = run_station(link, core, setup, watchers, cache, stop, mndp,
                                     sightings if services is not None else None)
            finally:
                if mndp is not None:
                    mndp.close()
        finally:
            link.close()
    finally:
        stop_web()
        stop_services()
        reporter.close()
        if journal is not None:
            journal.close()
    return _report(result)


def _checked_setup(options: StationOptions) -> tuple[StationSetup, PayloadCache]:
    """Every port's plugin, files and release, checked before anything is opened."""
    setup = station_setup(options)
    cache = PayloadCache()
    for chosen in setup.all():
        check_station_inputs(chosen.plugin, chosen.config.defaults, cache)
        inventory, template = chosen.rules.inventory, chosen.rules.template
        if inventory is not None:
            log.info("inventory %s%s%s", inventory.source,
                     f": {inventory.rows} rows" if inventory.rows is not None
                     else ": asked per board",
                     f"; first-boot scripts from {template.name}" if template else "")
        if chosen.releases is not None:
            chosen.releases.start()  # a channel is resolved once, before any offer
    return setup, cache


def _open_journal(config: StationConfig) -> Journal:
    """The journal, with what an earlier run left: rows it could not write (its database
    was down) are written now, and attempts it left open are marked interrupted."""
    journal = Journal(config.journal, station=station_name(config))
    spool = spool_path(journal.station)
    if spool.exists():
        try:
            log.info("journal: %d attempts of an earlier run written from %s",
                     replay(spool, journal), spool)
        except JournalError as exc:
            log.warning("%s: the rest stays in %s for the next start", exc, spool)
    stale = journal.close_stale()
    if stale:
        log.warning("journal: %d attempt(s) of an earlier run were left open: marked "
                    "interrupted", stale)
    return journal


def _open_mndp(config: StationConfig, mac: bytes) -> MndpListener | None:
    """The ear for boards in service; without it only --verify cannot go on."""
    if not config.mndp:
        return None
    try:
        return MndpListener.open(config.interfaces, config.loopback, mac)
    except LinkError as exc:
        if config.verify:
            raise LinkError(f"--verify needs MNDP (UDP 5678): {exc}") from None
        log.warning("boards in service will not be checked: %s", exc)
        return None


def _open_link(config: StationConfig) -> LoopbackLink | BroadcastLink | PortGroup:
    if config.loopback:
        local, peer = parse_loopback(config.loopback)
        return LoopbackLink(local, peer, local_admin_mac(0xF1A5))
    return open_ports(config.interfaces)


def _until(config: StationConfig) -> str:
    if config.one_shot:
        return "one board"
    if config.count:
        return f"{config.count} boards"
    return "continuous, Ctrl-C to stop"


def _web_view(options: StationOptions, journal: str) -> Any:
    """``--web``: bound now (a taken port is an error before any board is served),
    started once the flashing link is open."""
    if not options.web:
        return None
    from nitools.monitor.board_table import BoardTable
    from nitools.monitor.web.server import WebView

    return WebView(options.web, BoardTable(), journal, options.web_token)


def _watchers(options: StationOptions, link: Any, journal: Journal, reporter: LogReporter,
              web: Any) -> Watchers:
    port_of = getattr(link, "port_of", None)
    writer = JournalWriter(journal, port_of=port_of)
    writer.spool = spool_path(journal.station)
    if port_of is not None:
        reporter.port_of = port_of
    if web is not None:
        web.boards.port_of = port_of or web.boards.port_of
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
    return Watchers(reporter, BackgroundWriter(writer),  # fsyncs and database trips off the loop
                    metrics, heartbeat, (web.boards,) if web is not None else ())


def _report(result: StationResult) -> int:
    if result.interrupted:
        names = ", ".join(format_mac(mac) for mac in result.interrupted)
        log.error("stopped mid-install: %s must be net-installed again", names)
    elif result.stopped_short:
        log.error("stopped before the boards asked for (-1 / --count) were done")
    if result.unconfirmed:
        names = ", ".join(format_mac(mac) for mac in result.unconfirmed)
        log.error("installed, reboot not confirmed: power-cycle %s", names)
    if result.ignored_announcements:
        log.warning("%d announcements were ignored by the flood defence and the board caps "
                    "(new boards by the hundred a second: forged frames on the wire?)",
                    result.ignored_announcements)
    if result.wrong_version:
        names = ", ".join(format_mac(mac) for mac in result.wrong_version)
        log.error("booted another RouterOS than the one installed: %s", names)
    if result.unverified:
        names = ", ".join(format_mac(mac) for mac in result.unverified)
        log.error("not seen in service (--verify): %s", names)
    log.info("%d installed and rebooted, %d installed without a confirmed reboot, %d failed, "
             "%d refused", result.rebooted, len(result.unconfirmed), result.failed,
             result.refused)
    if result.silent:
        log.error("%d board%s got the boot image and never announced itself: see the "
                  "journal's silent rows for the likely causes", result.silent,
                  "s" if result.silent != 1 else "")
    if result.verified or result.wrong_version or result.unverified or result.not_seen:
        log.info("in service: %d verified, %d wrong version, %d unverified, %d not seen",
                 result.verified, len(result.wrong_version), len(result.unverified),
                 result.not_seen)
    return result.exit_code
