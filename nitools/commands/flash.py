"""``nitools flash``: check the settings, open the journal, the link and the watchers,
and run the station loop (``nitools.station.run``) until it is done; then say how it
went."""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nitools.commands.watchers import start_watchers
from nitools.console import counted, install_stop_handlers, setup_logging
from nitools.errors import LinkError
from nitools.journal.attempts import Journal, JournalError, default_path
from nitools.journal.spool import replay, spool_path
from nitools.monitor.control import ControlServer
from nitools.monitor.ui import make_reporter
from nitools.netboot.dnsmasq_log import Sighting
from nitools.netinstall.events import BoardEvent
from nitools.netinstall.frame import format_mac
from nitools.station.engine.core import StationCore, StationResult
from nitools.station.plan.payload import PayloadCache
from nitools.station.plan.prepare import check_station_inputs
from nitools.station.run import OperatorDesk, StationLoop, StopRelay
from nitools.station.setup.config import StationConfig, station_name
from nitools.station.setup.options import StationOptions, netinstall_cli_meaning
from nitools.station.setup.port_setup import StationSetup, choose_ports, station_setup
from nitools.station.setup.preflight import preflight, raise_problems
from nitools.wire.bootp_watch import BootpWatch
from nitools.wire.link import Link, LoopbackLink, local_admin_mac, parse_loopback, resolve_interface
from nitools.wire.mndp_link import MndpListener
from nitools.wire.ports import open_ports

log = logging.getLogger("nitools.flash")

@dataclass
class RunningServices:
    """What ``nitools station`` started besides the flashing (dnsmasq): how to stop it, and
    what follows the station's events (the lease keeper)."""

    stop: Callable[[], None]
    observe: Callable[[BoardEvent], None] | None = None


# ``nitools station``'s services (preflight, dnsmasq): started with a way to stop the
# station (a dying dnsmasq uses it) and where to hand what dnsmasq did for each board.
Services = Callable[[Callable[[], None], Callable[[Sighting], None]], RunningServices]


def _nothing() -> None:
    pass


def run_flash(options: StationOptions, services: Services | None = None,
              notes: tuple[str, ...] = ()) -> int:
    """Returns the exit code: 0 all installed, 1 a board failed, 130 interrupted.
    ``services`` (``nitools station``: preflight and dnsmasq) start once every setting
    has been checked, before the flashing link opens."""
    options = netinstall_cli_meaning(options)
    reporter = make_reporter(force_plain=options.plain or bool(options.logging_config),
                             log_keys=options.log_keys)
    stop = StopRelay()
    sightings: queue.SimpleQueue[Sighting] = queue.SimpleQueue()  # from dnsmasq's logs
    journal = None
    running = RunningServices(_nothing)
    stop_web: Callable[[], None] = _nothing
    control: ControlServer | None = None
    bootp: BootpWatch | None = None  # flash's eye on BOOTP requests it does not answer
    desk = OperatorDesk()  # operators' actions (socket, HTTP API), carried out by the loop
    try:
        setup_logging(options.verbose, options.logging_config, reporter.log_handler())
        options, chosen = choose_ports(options)  # no -i: the ini's, or the one it can be
        for note in (*notes, *([chosen] if chosen else [])):
            log.info("%s", note)
        setup, cache = _checked_setup(options)  # what can be wrong fails here, no socket open
        config = setup.main.config
        journal = _open_journal(config)
        control = ControlServer(station_name(config), desk)  # before anything listens
        web = _web_view(options, config.journal or str(default_path()), desk)
        if web is not None:
            stop_web = web.stop
        if services is not None:
            running = services(stop.request, sightings.put)
        elif config.engine.verify:
            log.info("--verify: boards are heard in service by MNDP only here; 'nitools "
                     "station' also sees a rebooted board ask its dnsmasq for an address "
                     "(outcome booted, docs/verify.md)")
        if services is None and not config.loopback:  # what 'station' checks first
            names = [resolve_interface(given)[0] for given in config.interfaces]  # or MACs
            raise_problems(preflight(names, serve_dhcp=False))
            # flash answers no BOOTP: a board asking for its boot image is told about it
            bootp = BootpWatch(tuple(names))
        link = _open_link(config)
        install_stop_handlers(stop.request)  # from here a stop is a stop, not a kill
        try:
            log.info("listening on %s as %s (%s); journal %s", link.describe(),
                     format_mac(link.mac), _until(config), journal.path)
            watchers = start_watchers(options, journal, reporter, web, running.observe)
            control.start()
            mndp = _open_mndp(config, link.mac)
            if bootp is not None:
                bootp.start()
            loop = StationLoop(link, StationCore(link.mac, config.engine), setup,
                               on_event=watchers.event, on_tick=watchers.tick,
                               installed_before=watchers.installed_before, cache=cache,
                               mndp=mndp, sightings=sightings if services else None,
                               desk=desk)
            try:
                result = loop.run(stop)
            finally:
                watchers.close()
                summary = watchers.summary()
                if mndp is not None:
                    mndp.close()
        finally:
            link.close()
    finally:
        if bootp is not None:
            bootp.close()
        if control is not None:
            control.close()
        stop_web()
        running.stop()
        reporter.close()
        if journal is not None:
            journal.close()
    return _report(result, summary)


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
    if not config.engine.mndp:
        return None
    try:
        return MndpListener.open(config.interfaces, config.loopback, mac)
    except LinkError as exc:
        if config.engine.verify:
            raise LinkError(f"--verify needs MNDP (UDP 5678): {exc}") from None
        log.warning("boards in service will not be checked: %s", exc)
        return None


def _open_link(config: StationConfig) -> Link:
    if config.loopback:
        local, peer = parse_loopback(config.loopback)
        return LoopbackLink(local, peer, local_admin_mac(0xF1A5))
    return open_ports(config.interfaces)


def _until(config: StationConfig) -> str:
    if config.engine.one_shot:
        return "one board"
    if config.engine.count:
        return counted(config.engine.count, "board")
    return "continuous, Ctrl-C to stop"


def _web_view(options: StationOptions, journal: str, desk: OperatorDesk) -> Any:
    """``--web``: bound now (a taken port is an error before any board is served),
    started once the flashing link is open."""
    if not options.web:
        return None
    from nitools.monitor.board_table import BoardTable
    from nitools.monitor.web.server import WebView

    return WebView(options.web, BoardTable(), journal, options.web_token, desk)


def _report(result: StationResult, summary: list[str]) -> int:
    """What the engine knows that needs doing (power-cycle, reinstall), then the summary,
    counted from this run's journal rows."""
    if result.interrupted:
        names = ", ".join(format_mac(mac) for mac in result.interrupted)
        log.error("stopped mid-install: %s must be net-installed again", names)
    elif result.stopped_short:
        log.error("stopped before the boards asked for (-1 / --count) were done")
    if result.unconfirmed:
        names = ", ".join(format_mac(mac) for mac in result.unconfirmed)
        log.error("installed, reboot not confirmed: power-cycle %s", names)
    if result.ignored_announcements:
        log.warning("%s ignored by the flood defence and the board caps (new boards by "
                    "the hundred a second: forged frames on the wire?)",
                    counted(result.ignored_announcements, "announcement was",
                            "announcements were"))
    if result.wrong_version:
        names = ", ".join(format_mac(mac) for mac in result.wrong_version)
        log.error("booted another RouterOS than the one installed: %s", names)
    if result.unverified:
        names = ", ".join(format_mac(mac) for mac in result.unverified)
        log.error("not seen in service (--verify): %s", names)
    if result.never_answered:
        log.warning("%d board%s never answered an offer (not counted towards -1/--count: "
                    "strays, forged announcements, or boards another server took)",
                    result.never_answered, "s" if result.never_answered != 1 else "")
    if result.silent:
        log.error("%d board%s got the boot image and never announced itself: see the "
                  "journal's silent rows for the likely causes", result.silent,
                  "s" if result.silent != 1 else "")
    for line in summary:
        log.info("%s", line)
    return result.exit_code
