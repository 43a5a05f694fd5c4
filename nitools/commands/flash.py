"""``nitools flash``: wire the configuration, plugin, link, journal, station core,
runner and progress display together."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from nitools.console import install_stop_handlers, setup_logging
from nitools.errors import UsageError
from nitools.journal.attempts import Journal, JournalError, default_path
from nitools.journal.background import BackgroundWriter
from nitools.journal.spool import replay, spool_path
from nitools.journal.writer import JournalWriter
from nitools.monitor.health import Heartbeat
from nitools.monitor.ui import LogReporter, make_reporter
from nitools.netinstall.frame import format_mac
from nitools.station.config import (
    StationConfig,
    station_name,
)
from nitools.station.core import PrepareRequest, StationCore, StationResult
from nitools.station.link import BroadcastLink, LoopbackLink, local_admin_mac, parse_loopback
from nitools.station.payload import PayloadCache
from nitools.station.ports import PortGroup
from nitools.station.prepare import (
    InstallPlan,
    Refusal,
    check_station_inputs,
    prepare_or_refuse,
)
from nitools.station.runner import Link, Runner
from nitools.station.setup import StationSetup, station_setup

log = logging.getLogger("nitools.flash")


def run_station(link: Link, core: StationCore, plugin: Any, config: StationConfig,
                reporter: LogReporter, journal: JournalWriter | BackgroundWriter | None = None,
                source_port: int | None = None, cache: PayloadCache | None = None,
                metrics: Callable[[Any], None] | None = None,
                setup: StationSetup | None = None,
                heartbeat: Heartbeat | None = None,
                observers: tuple[Callable[[Any], None], ...] = ()) -> StationResult:
    """Drive the station core on a link until it is done; returns its result.
    ``setup``: per-port plugins and defaults (else ``plugin`` and ``config`` for all)."""
    cache = cache or PayloadCache()
    port_of = getattr(link, "port_of", lambda mac: None)

    def prepare(request: PrepareRequest) -> InstallPlan | Refusal:
        if setup is None:
            return prepare_or_refuse(plugin, request.info, config.defaults, cache)
        chosen = setup.for_port(port_of(request.mac))
        return prepare_or_refuse(chosen.plugin, request.info, chosen.config.defaults, cache,
                                 chosen.releases)

    def on_event(event: Any) -> None:
        if journal is not None:
            journal(event)
        if metrics is not None:
            metrics(event)
        for observer in observers:  # e.g. the web view's board table
            observer(event)
        reporter.event(event)

    def on_tick() -> None:
        reporter.tick()
        if journal is not None:
            journal.flush()
        if heartbeat is not None:
            heartbeat.beat()

    runner = Runner(link, core, work=prepare, on_event=on_event, on_tick=on_tick,
                    source_port=source_port)
    install_stop_handlers(runner.request_stop)
    try:
        runner.run()
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        cache.cancel()  # downloads still running give up: their boards were never offered
        for chosen in setup.all() if setup is not None else ():
            if chosen.releases.cache.mirror is not None:
                chosen.releases.cache.mirror.cancelled.set()
        if journal is not None:
            journal.close()  # whatever ended the loop, every record is written or kept
    if journal is not None and journal.refusals_not_journaled:
        log.warning("journal: %d refused boards were not journaled (more than %g a "
                    "second: a flood?)", journal.refusals_not_journaled,
                    journal.REFUSALS_PER_SECOND)
    return core.result


def netinstall_cli_meaning(cli: Mapping[str, Any]) -> dict[str, Any]:
    """netinstall-cli's flags as nitools settings (docs/flash.md has the table)."""
    options = dict(cli)
    if options.get("discard_branding"):
        raise UsageError("-b (discard branding) is refused: how netinstall-cli tells a board "
                         "to discard its branding is not known, and nitools will not guess")
    if options.get("address"):
        raise UsageError("-a sets the address BOOTP hands out; nitools flash has no BOOTP "
                         "server: use 'nitools station -a ADDR' (flash and BOOTP in one)")
    chosen = [name for name, flag in (("-r", "default_config"), ("-e", "empty_config"),
                                      ("-s", "script")) if options.get(flag)]
    if len(chosen) > 1 or (chosen and options.get("config_mode")):
        given = ", ".join(chosen + (["--config-mode"] if options.get("config_mode") else []))
        raise UsageError(f"{given}: choose one configuration (-r default, -e empty, "
                         "-s script, or none of them to keep the old one)")
    if options.get("default_config"):
        options["config_mode"] = "default"
    elif options.get("empty_config"):
        options["config_mode"] = "empty"
    elif options.get("script"):
        options["config_mode"] = "script"
    elif options.get("packages") and not options.get("config_mode"):
        options["config_mode"] = "keep"  # netinstall-cli's default, unlike the ini's
    if options.get("packages") and not options.get("multiple") and not options.get("count"):
        options["one_shot"] = True
    return options


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


def _web_view(cli: Mapping[str, Any], journal: str) -> Any:
    """``--web``: bound now (a taken port is an error before any board is served),
    started once the flashing link is open."""
    if not cli.get("web"):
        return None
    from nitools.monitor.board_table import BoardTable
    from nitools.monitor.web.server import WebView

    return WebView(cli["web"], BoardTable(), journal, cli.get("web_token"))


def run_flash(cli: Mapping[str, Any],
              services: Callable[[], Callable[[], None]] | None = None) -> int:
    """Returns the exit code: 0 all installed, 1 a board failed, 130 interrupted.
    ``services()`` (``nitools station``: preflight and dnsmasq) runs once every setting
    has been checked, before the flashing link opens; what it returns stops them."""
    cli = netinstall_cli_meaning(cli)
    reporter = make_reporter(force_plain=bool(cli.get("plain") or cli.get("logging_config")),
                             log_keys=bool(cli.get("log_keys")))
    journal = None
    stop_services: Callable[[], None] = _nothing
    stop_web: Callable[[], None] = _nothing
    try:
        setup_logging(cli.get("verbose") or 0, cli.get("logging_config"),
                      reporter.log_handler())
        # Everything that can be wrong with the setup fails here, before any socket opens.
        setup = station_setup(cli)
        config = setup.main.config
        cache = PayloadCache()
        for chosen in setup.all():
            check_station_inputs(chosen.plugin, chosen.config.defaults, cache)
            chosen.releases.start()  # a channel is resolved once, before any offer
        journal = Journal(config.journal, station=station_name(config))
        spool = spool_path(journal.station)
        if spool.exists():  # rows an earlier run could not write (its database was down)
            try:
                log.info("journal: %d attempts of an earlier run written from %s",
                         replay(spool, journal), spool)
            except JournalError as exc:
                log.warning("%s: the rest stays in %s for the next start", exc, spool)
        stale = journal.close_stale()
        if stale:
            log.warning("journal: %d attempt(s) of an earlier run were left open: marked "
                        "interrupted", stale)
        web = _web_view(cli, config.journal or str(default_path()))
        if web is not None:
            stop_web = web.stop
        if services is not None:
            stop_services = services()
        if config.loopback:
            local, peer = parse_loopback(config.loopback)
            link: LoopbackLink | BroadcastLink | PortGroup = LoopbackLink(
                local, peer, local_admin_mac(0xF1A5))
        else:
            link = open_ports(config.interfaces)
        log.info("listening on %s as %s (%s); journal %s", link.describe(), format_mac(link.mac),
                 "one board" if config.one_shot else "continuous, Ctrl-C to stop",
                 journal.path)
        port_of = getattr(link, "port_of", None)
        writer = JournalWriter(journal, port_of=port_of)
        writer.spool = spool
        if port_of is not None:
            reporter.port_of = port_of
        if web is not None:
            web.boards.port_of = port_of or web.boards.port_of
            web.start()
        metrics = None
        if cli.get("metrics"):
            from nitools.monitor.metrics import StationMetrics

            metrics = StationMetrics()
            metrics.serve(cli["metrics"])
            writer.on_failure = metrics.journal_failures.inc
        background = BackgroundWriter(writer)  # fsyncs and database trips off the loop
        core = StationCore(link.mac, config, history=background.installed_before)
        try:
            result = run_station(link, core, setup.main.plugin, config, reporter, background,
                                 source_port=link.peer_port, cache=cache, metrics=metrics,
                                 setup=setup, heartbeat=Heartbeat(cli["health_file"])
                                 if cli.get("health_file") else None,
                                 observers=(web.boards,) if web is not None else ())
        finally:
            link.close()
    finally:
        stop_web()
        stop_services()
        reporter.close()
        if journal is not None:
            journal.close()
    if result.interrupted:
        names = ", ".join(format_mac(mac) for mac in result.interrupted)
        log.error("stopped mid-install: %s must be net-installed again", names)
    elif result.stopped_short:
        log.error("stopped before the boards asked for (-1 / --count) were done")
    if result.unconfirmed:
        names = ", ".join(format_mac(mac) for mac in result.unconfirmed)
        log.error("installed, reboot not confirmed: power-cycle %s", names)
    log.info("%d installed and rebooted, %d installed without a confirmed reboot, %d failed",
             result.rebooted, len(result.unconfirmed), result.failed)
    return result.exit_code
