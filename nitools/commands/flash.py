"""``nitools flash``: wire the configuration, plugin, link, journal, station core,
runner and progress display together."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from nitools.config import (
    DEFAULTS,
    StationConfig,
    config_file,
    load_ini,
    settings,
    station_config,
    station_name,
)
from nitools.console import install_stop_handlers, setup_logging
from nitools.errors import ConfigError, UsageError
from nitools.journal import Journal, JournalWriter
from nitools.mirror import DEFAULT_MIRROR, Mirror
from nitools.netinstall.core import PrepareRequest, StationCore, StationResult
from nitools.netinstall.frame import format_mac
from nitools.netinstall.link import BroadcastLink, LoopbackLink, local_admin_mac, parse_loopback
from nitools.netinstall.payload import PayloadCache
from nitools.netinstall.plugins import PackageSetPlugin, check_keys, load_plugin, locate
from nitools.netinstall.prepare import (
    InstallPlan,
    Refusal,
    check_station_inputs,
    prepare_or_refuse,
)
from nitools.netinstall.runner import Link, Runner
from nitools.package_cache import PackageCache
from nitools.releases import ReleaseFiles, ReleasePlugin
from nitools.ui import LogReporter, make_reporter

log = logging.getLogger("nitools.flash")


def run_station(link: Link, core: StationCore, plugin: Any, config: StationConfig,
                reporter: LogReporter, journal: JournalWriter | None = None,
                source_port: int | None = None, cache: PayloadCache | None = None,
                metrics: Callable[[Any], None] | None = None,
                releases: ReleaseFiles | None = None) -> StationResult:
    """Drive the station core on a link until it is done; returns its result."""
    cache = cache or PayloadCache()

    def prepare(request: PrepareRequest) -> InstallPlan | Refusal:
        return prepare_or_refuse(plugin, request.info, config.defaults, cache, releases)

    def on_event(event: Any) -> None:
        if journal is not None:
            journal(event)
        if metrics is not None:
            metrics(event)
        reporter.event(event)

    def on_tick() -> None:
        reporter.tick()
        if journal is not None:
            journal.flush()

    runner = Runner(link, core, work=prepare, on_event=on_event, on_tick=on_tick,
                    source_port=source_port)
    install_stop_handlers(runner.request_stop)
    try:
        runner.run()
    finally:
        cache.cancel()  # downloads still running give up: their boards were never offered
        if releases is not None and releases.cache.mirror is not None:
            releases.cache.mirror.cancelled.set()
    if journal is not None:
        journal.close()
        if journal.refusals_not_journaled:
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
        raise UsageError("-a sets the address of a built-in BOOTP server; nitools flash has "
                         "none: serve BOOTP with 'nitools dnsmasq --run' (--range)")
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


def choose_plugin(cli: Mapping[str, Any]) -> tuple[StationConfig, Any, ReleaseFiles]:
    """Who picks each board's files: packages given as arguments (netinstall-cli), a
    RouterOS version or packages folder (--routeros, --packages-dir, or the ini's
    routeros=/packages_dir=), the ini's firmware=, or the ini's plugin=."""
    path = config_file(cli.get("config_path") or DEFAULTS.config_path)
    release_on_cli = bool(cli.get("routeros") or cli.get("packages_dir"))
    if cli.get("packages") or (release_on_cli and path == DEFAULTS.config_path
                               and not os.path.exists(path)):
        ini = None  # nothing to read: the command line says it all
    else:
        ini = load_ini(path)
    config = station_config(cli, ini)
    release = config.release
    releases = ReleaseFiles(release, PackageCache(mirror=Mirror(release.mirror or
                                                                DEFAULT_MIRROR)))
    if cli.get("packages"):  # netinstall-cli's way: the files are the arguments
        if release.active:
            raise UsageError("give packages as arguments or --routeros/--packages-dir, "
                             "not both")
        return config, PackageSetPlugin(list(cli["packages"])), releases
    if ini is None:
        return config, ReleasePlugin(releases), releases
    section = settings(ini)
    if release.active and not section.get("plugin", "").strip():
        if section.get("firmware", "").strip():
            raise ConfigError(f"{ini.path}: firmware= and routeros=/packages_dir= are both "
                              "set: choose one way to pick the packages")
        check_keys(ini, custom_plugin=False)
        script = section.get("config")
        located = locate(script.strip(), os.path.dirname(ini.path)) if script else None
        return config, ReleasePlugin(releases, located), releases
    return config, load_plugin(ini), releases


def run_flash(cli: Mapping[str, Any]) -> int:
    """Returns the exit code: 0 all installed, 1 a board failed, 130 interrupted."""
    cli = netinstall_cli_meaning(cli)
    reporter = make_reporter(force_plain=bool(cli.get("plain") or cli.get("logging_config")),
                             log_keys=bool(cli.get("log_keys")))
    journal = None
    try:
        setup_logging(cli.get("verbose") or 0, cli.get("logging_config"),
                      reporter.log_handler())
        # Everything that can be wrong with the setup fails here, before any socket opens.
        config, plugin, releases = choose_plugin(cli)
        cache = PayloadCache()
        check_station_inputs(plugin, config.defaults, cache)
        releases.start()  # a channel is resolved once, before any board is offered
        journal = Journal(config.journal, station=station_name(config))
        stale = journal.close_stale()
        if stale:
            log.warning("journal: %d attempt(s) of an earlier run were left open: marked "
                        "interrupted", stale)
        if config.loopback:
            local, peer = parse_loopback(config.loopback)
            link: LoopbackLink | BroadcastLink = LoopbackLink(local, peer,
                                                              local_admin_mac(0xF1A5))
        else:
            link = BroadcastLink(config.interface)
        log.info("listening on %s as %s (%s); journal %s", link.describe(), format_mac(link.mac),
                 "one board" if config.one_shot else "continuous, Ctrl-C to stop",
                 journal.path)
        writer = JournalWriter(journal)
        metrics = None
        if cli.get("metrics"):
            from nitools.metrics import StationMetrics

            metrics = StationMetrics()
            metrics.serve(cli["metrics"])
            writer.on_failure = metrics.journal_failures.inc
        core = StationCore(link.mac, config, history=writer.installed_before)
        try:
            result = run_station(link, core, plugin, config, reporter, writer,
                                 source_port=link.peer_port, cache=cache, metrics=metrics,
                                 releases=releases)
        finally:
            link.close()
    finally:
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
