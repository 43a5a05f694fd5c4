"""``nitools flash``: wire the ini file, plugin, link, journal, station and progress."""

from __future__ import annotations

import configparser
import logging
import os
from dataclasses import dataclass, field

from nitools.console import install_stop_handlers, setup_logging
from nitools.errors import UsageError
from nitools.journal import Journal
from nitools.netinstall.frame import format_mac, parse_mac
from nitools.netinstall.link import BroadcastLink, LoopbackLink, local_admin_mac, parse_loopback
from nitools.netinstall.plugins import load_config, load_plugin, settings
from nitools.netinstall.prepare import CONFIG_MODES, InstallDefaults
from nitools.netinstall.server import Timing
from nitools.netinstall.station import Station, StationOptions
from nitools.ui import make_reporter

log = logging.getLogger("nitools.flash")


@dataclass
class FlashOptions:
    config_path: str = "/etc/nitools.ini"  # DEFAULT_CONFIG
    interface: str = "eth0"
    one_shot: bool = False
    count: int | None = None
    verbose: int = 0
    logging_config: str | None = None
    format_timeout: float = 180.0
    window: int = 32
    loopback: str | None = None
    plain: bool = False
    log_keys: bool = False
    macs: tuple[str, ...] = ()
    once: bool = False
    journal: str | None = None
    grace: float = 60.0
    config_mode: str | None = None
    script: str | None = None
    key_file: str | None = None
    mode_script: str | None = None
    branding: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


DEFAULT_CONFIG = "/etc/nitools.ini"
PYNETINSTALL_CONFIG = "/etc/pynetinstall.ini"


def config_file(path: str, fallback: str = PYNETINSTALL_CONFIG) -> str:
    """The default ini, or pyNetinstall's default when only that one exists."""
    if path == DEFAULT_CONFIG and not os.path.exists(path) and os.path.exists(fallback):
        log.info("%s not found: using pyNetinstall's %s", path, fallback)
        return fallback
    return path


def install_defaults(options: FlashOptions, config: configparser.ConfigParser
                     ) -> InstallDefaults:
    """Command-line options first, then the ini section's keys of the same names."""
    section = settings(config)

    def pick(value: str | None, key: str) -> str | None:
        return value if value is not None else (section.get(key) or None)

    mode = pick(options.config_mode, "config_mode")
    if mode is not None and mode not in CONFIG_MODES:
        raise UsageError(f"config_mode={mode} is not one of {', '.join(CONFIG_MODES)}")
    return InstallDefaults(config_mode=mode, script=options.script,
                           key_file=pick(options.key_file, "key_file"),
                           mode_script=pick(options.mode_script, "mode_script"),
                           branding=pick(options.branding, "branding"))


def run_flash(options: FlashOptions) -> int:
    """Returns the exit code: 0 all installed, 1 a board failed, 130 interrupted."""
    reporter = make_reporter(force_plain=options.plain or options.logging_config is not None)
    journal = None
    try:
        setup_logging(options.verbose, options.logging_config, reporter.log_handler())
        # Everything that can be wrong with the setup fails here, before any socket opens.
        config = load_config(config_file(options.config_path))
        plugin = load_plugin(config)
        defaults = install_defaults(options, config)
        try:
            macs = frozenset(parse_mac(m) for m in options.macs) if options.macs else None
        except ValueError as exc:
            raise UsageError(f"--mac: {exc}") from None
        journal = Journal(options.journal)
        stale = journal.close_stale()
        if stale:
            log.warning("journal: %d attempt(s) of an earlier run were left open: marked "
                        "interrupted", stale)
        if options.loopback:
            local, peer = parse_loopback(options.loopback)
            link = LoopbackLink(local, peer, local_admin_mac(0xF1A5))
        else:
            link = BroadcastLink(options.interface)
        log.info("listening on %s as %s (%s); journal %s", link.describe(), format_mac(link.mac),
                 "one board" if options.one_shot else "continuous, Ctrl-C to stop",
                 journal.path)
        station_options = StationOptions(
            one_shot=options.one_shot, max_installs=options.count, window=options.window,
            timing=Timing(format_timeout=options.format_timeout), stop_grace=options.grace,
            allowed_macs=macs, once=options.once, defaults=defaults,
            log_keys=options.log_keys)
        station = Station(link, plugin, station_options, reporter, journal=journal)
        install_stop_handlers(station.request_stop)
        try:
            result = station.run()
        finally:
            link.close()
    finally:
        reporter.close()
        if journal is not None:
            journal.close()
    if result.interrupted:
        names = ", ".join(format_mac(b.mac) for b in result.interrupted)
        log.error("stopped mid-install: %s must be net-installed again", names)
    log.info("%d installed, %d failed", len(result.installed), len(result.failed))
    return result.exit_code



