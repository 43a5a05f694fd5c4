"""``nitools flash``: wire the ini file, plugin, link, station and progress together."""

from __future__ import annotations

import logging

from nitools.cli import install_stop_handlers, setup_logging
from nitools.netinstall.frame import format_mac
from nitools.netinstall.link import BroadcastLink, LoopbackLink, local_admin_mac, parse_loopback
from nitools.netinstall.plugins import load_config, load_plugin
from nitools.netinstall.server import Timing
from nitools.netinstall.station import Station, StationOptions
from nitools.ui import RichReporter, make_reporter

log = logging.getLogger("nitools.flash")


def run_flash(config_path: str, interface: str, *, one_shot: bool = False, verbose: int = 0,
              logging_config: str | None = None, format_timeout: float = 180.0,
              window: int = 32, loopback: str | None = None, plain: bool = False) -> int:
    """Returns the exit code: 0 all installed, 1 a board failed, 130 interrupted."""
    reporter = make_reporter(force_plain=plain or logging_config is not None)
    try:
        handler = None
        if isinstance(reporter, RichReporter):
            from rich.logging import RichHandler

            handler = RichHandler(console=reporter.progress.console, show_path=False)
        setup_logging(verbose, logging_config, handler)

        # Everything that can be wrong with the setup fails here, before any socket opens.
        config = load_config(config_path)
        plugin = load_plugin(config)
        if loopback:
            local, peer = parse_loopback(loopback)
            link = LoopbackLink(local, peer, local_admin_mac(0xF1A5))
        else:
            link = BroadcastLink(interface)
        log.info("listening on %s as %s (%s)", link.describe(), format_mac(link.mac),
                 "one board" if one_shot else "continuous, Ctrl-C to stop")
        options = StationOptions(one_shot=one_shot, window=window,
                                 timing=Timing(format_timeout=format_timeout))
        station = Station(link, plugin, options, reporter)
        install_stop_handlers(station.request_stop)
        try:
            result = station.run()
        finally:
            link.close()
    finally:
        if isinstance(reporter, RichReporter):
            reporter.close()
    if result.interrupted:
        names = ", ".join(format_mac(b.mac) for b in result.interrupted)
        log.error("stopped mid-install: %s must be net-installed again", names)
    log.info("%d installed, %d failed", len(result.installed), len(result.failed))
    return result.exit_code
