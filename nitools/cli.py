"""The ``nitools`` command line: one small function per subcommand, no logic."""

from __future__ import annotations

import functools
import math
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from nitools import __version__
from nitools.console import clean, setup_logging
from nitools.emulation.emulator import BoardSpec
from nitools.errors import NitoolsError
from nitools.errors import UsageError as NitoolsUsageError
from nitools.station.plan.ini import CONFIG_MODES, UNLISTED_CHOICES
from nitools.station.setup.config import DEFAULTS


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Expected failures become one line on stderr and an exit code, no traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NitoolsError as exc:
            click.echo(f"nitools: error: {clean(exc)}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("nitools: interrupted", err=True)
            sys.exit(130)

    return wrapper


def not_an_option(context: click.Context, parameter: click.Parameter, value: Any) -> Any:
    """``-c -r``: click takes ``-r`` as -c's value; say so instead of reading a file
    called -r (or, for a flag that then goes missing, doing the opposite of it)."""
    if isinstance(value, str) and value.startswith("-") and value != "-":
        raise click.BadParameter(f"'{value}' looks like an option, not a value: give "
                                 f"{parameter.opts[-1]} its value first")
    return value


class RegularFile(click.Path):
    """An existing regular file: a FIFO or a device given as a package, a script or a
    netinstall.exe would block on its first read (or never end)."""

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None,
                context: click.Context | None) -> Any:
        path = super().convert(value, param, context)
        if not stat.S_ISREG(os.stat(path).st_mode):
            self.fail(f"{value!r} is not a regular file", param, context)
        return path


class Number(click.FloatRange):
    """A number in a range, and a number at all: ``nan`` passes every comparison of
    click's FloatRange (a timeout of nan would never expire), ``inf`` would not end."""

    def convert(self, value: Any, param: click.Parameter | None,
                context: click.Context | None) -> Any:
        number = super().convert(value, param, context)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, context)
        return number


BOARD = BoardSpec()  # the emulated board's defaults
ENV_PREFIX = "NITOOLS_"


def from_environment(command: click.Command) -> click.Command:
    """Every long option may also come from ``NITOOLS_<OPTION>`` (``--tftp-root`` ->
    ``NITOOLS_TFTP_ROOT``): a container has no ini editor. Same types, same checks;
    a flag on the command line wins over the variable."""
    for param in command.params:
        if isinstance(param, click.Option) and param.envvar is None:
            longest = max(param.opts, key=len)
            if longest.startswith("--"):
                param.envvar = ENV_PREFIX + longest[2:].upper().replace("-", "_")
                param.show_envvar = True
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nitools")
def main() -> None:
    """Reinstall MikroTik RouterBoards over the network (netinstall)."""


# The station's options, shared by flash and station (every one also NITOOLS_<OPTION>).
STATION_OPTIONS = [
    click.option("-c", "--config", "config_path", show_default=DEFAULTS.config_path,
                  callback=not_an_option,
                  help="ini file ([nitools] or [pynetinstall] section)."),
    click.option("-i", "--interface", "interfaces", multiple=True,
                  default=DEFAULTS.interfaces, show_default=True,
                  help="Interface name, or that interface's MAC address. Repeat it to serve "
                       "several ports from one station."),
    click.option("-1", "--one-shot", is_flag=True,
                  help="Exit after one board: 0 if it was installed, 1 if it failed."),
    click.option("-v", "--verbose", count=True, help="More log detail (repeatable)."),
    click.option("-l", "--logging", "logging_config", type=click.Path(),
                  help="Python logging config file (logging.config.fileConfig format)."),
    click.option("--count", type=click.IntRange(1), metavar="N",
                  help="Exit after N boards (installed or failed); 0 only if all were installed."),
    click.option("--mac", "macs", multiple=True, metavar="MAC",
                  help="Serve only the board announcing with this MAC (repeatable)."),
    click.option("--once", is_flag=True,
                  help="Install each board at most once per journal."),
    click.option("--journal", callback=not_an_option, metavar="PATH|URL",
                  help="Journal of every attempt: a SQLite file, or postgresql://... shared "
                       "by several stations. Default: $XDG_STATE_HOME/nitools/journal.sqlite3."),
    click.option("--station-name", callback=not_an_option, metavar="NAME",
                  help="This station's name in the journal. Default: HOST:INTERFACE."),
    click.option("--config-mode", type=click.Choice(CONFIG_MODES),
                  help="default: RouterOS default configuration; empty: none at all; script: "
                       "the first-boot script; keep: the board's old configuration."),
    click.option("-r", "--default-config", is_flag=True,
                  help="netinstall-cli -r: RouterOS default configuration."),
    click.option("-e", "--empty-config", is_flag=True,
                  help="netinstall-cli -e: no configuration at all."),
    click.option("-s", "--script", type=RegularFile(),
                  help="First-boot script (.rsc), sent as autorun.scr; overrides config=."),
    click.option("-m", "--multiple", is_flag=True,
                  help="netinstall-cli -m: with packages given, serve boards until stopped "
                       "(without it: one board, then exit)."),
    click.option("-o", "--once-per-mac", is_flag=True,
                  help="netinstall-cli -o: install each board (MAC) at most once in this run."),
    click.option("-b", "--discard-branding", is_flag=True,
                  help="netinstall-cli -b: refused, how it goes on the wire is not known."),
    click.option("-a", "--address", callback=not_an_option, metavar="ADDR",
                  help="netinstall-cli -a: the one address BOOTP hands out ('nitools station' "
                       "with one -i; 'flash' has no BOOTP server and refuses it)."),
    click.option("-k", "--key-file", type=RegularFile(),
                  help="MikroTik .key file to install as the board's licence."),
    click.option("-sm", "--mode-script", type=RegularFile(),
                  help="Mode script (RouterOS 7.22+), sent as mode.scr."),
    click.option("--branding", type=RegularFile(),
                  help="Branding package (.dpk) to install."),
    click.option("--format-timeout", type=Number(1, 3600),
                  default=DEFAULTS.engine.timing.format_timeout, show_default=True,
                  help="Seconds to wait for a board to format its disk."),
    click.option("--reboot-timeout", type=Number(1, 3600),
                  default=DEFAULTS.engine.timing.reboot_timeout, show_default=True,
                  help="Seconds to wait for a board to confirm its reboot (stop asking for "
                       "TERM) before saying it was not confirmed."),
    click.option("--grace", type=Number(0, 3600), default=DEFAULTS.engine.grace,
                  show_default=True,
                  help="On Ctrl-C/SIGTERM: seconds running installs may still take."),
    click.option("--window", type=click.IntRange(1, 256), default=DEFAULTS.engine.window,
                  show_default=True,
                  help="Most frames in flight per board; the window adapts to loss below "
                       "it. 1 = stop-and-wait."),
    click.option("--loopback", callback=not_an_option, metavar="LOCAL:PEER",
                  help="Use UDP on 127.0.0.1 instead of an interface (tests, demos)."),
    click.option("--plain", is_flag=True, help="Log lines only, no live progress display."),
    click.option("--metrics", callback=not_an_option, metavar="[ADDR:]PORT",
                  help="Serve Prometheus metrics at http://ADDR:PORT/metrics (ADDR defaults to "
                       "127.0.0.1; needs nitools[metrics])."),
    click.option("--web", callback=not_an_option, metavar="[ADDR:]PORT",
                  help="Serve the live web view (boards in progress, history) at "
                       "http://ADDR:PORT/ (ADDR defaults to 127.0.0.1)."),
    click.option("--web-token", callback=not_an_option, metavar="TOKEN",
                  help="Bearer token the web view requires (needed when ADDR is not "
                       "loopback); browsers pass it as ?token=TOKEN."),
    click.option("--health-file", callback=not_an_option, metavar="PATH",
                  help="Touch PATH every few seconds while the station runs (for 'nitools "
                       "health' and container health checks)."),
    click.option("--log-keys", is_flag=True,
                  help="Show the licence key each board announces in the log (hidden by default)."),
    click.option("--routeros", callback=not_an_option, metavar="VERSION|CHANNEL",
                  help="Install this RouterOS version (7.16.1) or channel's newest (stable, "
                       "testing, long-term, development): each board gets the packages for its "
                       "architecture, fetched into the cache on first need."),
    click.option("--package", "release_packages", multiple=True, metavar="NAME",
                  help="With --routeros or --packages-dir: an extra package (container, "
                       "wifi-qcom, ...). Repeatable."),
    click.option("--mirror", callback=not_an_option, metavar="URL|DIR",
                  help="Where packages and channels are fetched from (MikroTik's layout). "
                       "Default: https://upgrade.mikrotik.com"),
    click.option("--packages-dir", type=click.Path(exists=True, file_okay=False),
                  help="A folder of .npk files: each board gets the ones whose headers say its "
                       "architecture (and --routeros version, if given)."),
    click.option("--verify", is_flag=True,
                  help="A board must be seen in service (MNDP: the version installed) after "
                       "its reboot; -1 and --count wait for it, and exit 1 if not."),
    click.option("--verify-timeout", type=Number(1, 86400), default=DEFAULTS.engine.verify_timeout,
                  show_default=True,
                  help="Seconds from a board's reboot to its first MNDP announcement."),
    click.option("--no-mndp", is_flag=True,
                  help="Do not listen for boards in service (UDP 5678)."),
    click.option("--announce-timeout", type=Number(1, 3600),
                  default=DEFAULTS.engine.announce_timeout, show_default=True,
                  help="'station': seconds from a board's boot image (TFTP) to its first "
                       "netinstall announcement; a board not heard by then is 'silent'."),
    click.option("--inventory", callback=not_an_option, metavar="FILE|URL",
                  help="Boards and their own settings: CSV, JSON, or a URL (with {mac} or "
                       "{software_id}: asked per board). See docs/inventory.md."),
    click.option("--config-template", type=RegularFile(),
                  help="Jinja2 first-boot script rendered per board from its inventory row "
                       "and facts; values are escaped for RouterOS."),
    click.option("--unlisted", type=click.Choice(UNLISTED_CHOICES),
                  help="A board the inventory does not list: refuse (the default) leaves it "
                       "alone; default installs it with the station's own settings."),
    click.option("--device-mode", callback=not_an_option, metavar="off|auto|SETTINGS",
                  help="auto: a mode script turning on device-mode for container/zerotier "
                       "(RouterOS 7.22+); or the settings, e.g. \"mode=advanced container=yes\"."),
]


def station_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(STATION_OPTIONS):
        command = option(command)
    return command


@from_environment
@main.command()
@station_options
@click.argument("packages", nargs=-1, type=RegularFile())
@friendly_errors
def flash(**options: Any) -> None:
    """Install RouterOS on boards that net-boot on INTERFACE.

    Without PACKAGES: the files come from the ini file (pyNetinstall's) or its plugin.
    With PACKAGES, as netinstall-cli takes them: no ini file; each board gets the packages
    made for its architecture; the old configuration is kept unless -r, -e or -s; one
    board, then exit, unless -m.
    """
    from nitools.commands.flash import run_flash
    from nitools.station.setup.options import StationOptions

    sys.exit(run_flash(StationOptions.from_click(options)))


@from_environment
@main.command()
@station_options
@click.option("--tftp-root", type=click.Path(file_okay=False),
              help="Folder with the boot images (from 'nitools extract'); with "
                   "--boot-version, where the fetched ones are extracted.")
@click.option("--boot-version", metavar="VERSION|CHANNEL",
              help="Serve the boot images of netinstall-VERSION.zip, fetched through the "
                   "cache. Default without --tftp-root: the --routeros version.")
@click.option("--range", "range_spec", metavar="START,END",
              help="Addresses to hand out. Default: half of each interface's subnet.")
@click.option("--lease-time", default="1h", show_default=True, help="DHCP lease time.")
@click.option("--server-ip", help="TFTP server address to announce. Default: the interface's.")
@click.option("--boot-arch", "boot_archs", multiple=True, metavar="ARCH",
              help="Serve only these boot images (repeatable). Default: all in the folder.")
@click.option("--no-dhcp", is_flag=True,
              help="Another server does BOOTP/DHCP and TFTP: only flash (after the preflight).")
@click.argument("packages", nargs=-1, type=RegularFile())
@friendly_errors
def station(**options: Any) -> None:
    """BOOTP/DHCP + TFTP (dnsmasq) and flashing in one command, on one or more ports.

    Takes every option of 'flash' (an ini file, --routeros, or packages as arguments with
    netinstall-cli's flags; -a ADDR: the one address handed out), checks the interfaces,
    the ports and the firewall first, and stops dnsmasq with itself. Every option can also
    come from NITOOLS_<OPTION>: with no flags at all it runs from the environment.
    """
    from nitools.commands.station import NetbootOptions, run_station_command
    from nitools.station.setup.options import StationOptions

    netboot = {name: options.pop(name) for name in ("tftp_root", "boot_version", "range_spec",
                                                    "lease_time", "server_ip", "boot_archs",
                                                    "no_dhcp")}
    sys.exit(run_station_command(StationOptions.from_click(options),
                                 NetbootOptions(**{**netboot,
                                                   "boot_archs": tuple(netboot["boot_archs"])})))


@main.command()
@click.option("--file", "path", envvar="NITOOLS_HEALTH_FILE", show_envvar=True,
              default="/run/nitools/station.alive", show_default=True,
              help="The station's --health-file.")
@click.option("--max-age", type=Number(1), default=30.0, show_default=True,
              help="Seconds after which a heartbeat is too old.")
@friendly_errors
def health(path: str, max_age: float) -> None:
    """Exit 0 if the station's heartbeat is fresh, 1 otherwise (container health check)."""
    from nitools.monitor.health import check

    healthy, message = check(path, max_age)
    click.echo(message, err=not healthy)
    sys.exit(0 if healthy else 1)


@main.command()
@click.option("--inventory", required=True, metavar="FILE|URL",
              help="The inventory: CSV, JSON, or a URL answering a list.")
@click.option("--config-template", type=RegularFile(),
              help="The Jinja2 first-boot template (or each row's template column).")
@click.option("--mac", "macs", multiple=True, metavar="MAC", help="A board (repeatable).")
@click.option("--software-id", "software_ids", multiple=True, metavar="ID",
              help="A board by software ID (repeatable).")
@click.option("--all", "render_all", is_flag=True, help="Every board row of the inventory.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False),
              help="With --all: write one MAC.rsc per board into this folder.")
@click.option("--routeros", metavar="VERSION",
              help="The version being installed (the routeros fact); default: the row's.")
@click.option("--fact", "facts", multiple=True, metavar="NAME=VALUE",
              help="A board fact the station would know (arch=arm64, model=RB5009, ...).")
@click.option("--station-name", metavar="NAME", help="The station fact.")
@friendly_errors
def render(inventory: str, config_template: str | None, macs: tuple[str, ...],
           software_ids: tuple[str, ...], render_all: bool, out_dir: str | None,
           routeros: str | None, facts: tuple[str, ...], station_name: str | None) -> None:
    """Show the first-boot script each board would get, with no board present."""
    from nitools.commands.render import run_render

    sys.exit(run_render(inventory, config_template, macs, software_ids, render_all, out_dir,
                        routeros, facts, station_name))


@main.command()
@click.option("--journal", metavar="PATH|URL", envvar="NITOOLS_JOURNAL", show_envvar=True,
              help="Journal to read: a SQLite file or a postgresql:// URL.")
@click.option("--since", help="Only attempts since then: 2h, 3d, 2026-11-25, 2026-11-25T08:00.")
@click.option("--limit", type=click.IntRange(1), help="Only the last N attempts.")
@click.option("--mac", help="Only attempts of the board with this MAC (any of its ports).")
@click.option("--software-id", help="Only attempts of the board with this software ID.")
@click.option("--outcome", type=click.Choice(["rebooted", "installed", "unconfirmed", "failed",
                                              "refused", "interrupted", "released",
                                              "verified", "wrong-version", "unverified",
                                              "silent"]),
              help="Only attempts that ended so.")
@click.option("--station", help="Only attempts of this station (see flash --station-name).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--csv", "as_csv", is_flag=True, help="Comma-separated output, a header first.")
@click.option("--script", "show_script", is_flag=True,
              help="With --mac or --software-id: print the first-boot script the board got "
                   "in its last attempt that sent one.")
@click.option("--timeline", "show_timeline", is_flag=True,
              help="With --mac or --software-id: each attempt's timeline, from its first "
                   "BOOTP request to RouterOS running.")
@friendly_errors
def history(journal: str | None, since: str | None, limit: int | None, mac: str | None,
            software_id: str | None, outcome: str | None, station: str | None,
            as_json: bool, as_csv: bool, show_script: bool, show_timeline: bool) -> None:
    """List what the flashing station did, from its journal."""
    from nitools.commands.history import (
        HistoryFilter,
        print_script,
        print_timelines,
        run_history,
    )

    only = HistoryFilter(mac, software_id, outcome, station)
    if show_script:
        sys.exit(print_script(journal, only, since))
    if show_timeline:
        sys.exit(print_timelines(journal, only, since, limit))
    sys.exit(run_history(journal, since, limit, as_json, only, as_csv))


@main.command()
@click.option("-i", "--interface", help="Interface to emulate boards on (needs root).")
@click.option("--loopback", metavar="LOCAL:PEER", help="UDP on 127.0.0.1 instead.")
@click.option("--boards", type=click.IntRange(1, 256), default=1, show_default=True)
@click.option("--model", default=BOARD.model, show_default=True)
@click.option("--arch", default=BOARD.arch, show_default=True)
@click.option("--software-id", help="Default: made up per board.")
@click.option("--key", help="Licence key (base64) the boards hold. Default: made up.")
@click.option("--no-key", is_flag=True, help="Boards hold no licence key.")
@click.option("--min-os", "min_version", default=BOARD.min_version, show_default=True,
              help="Board minimum RouterOS.")
@click.option("--image-version", default=BOARD.image_version, show_default=True,
              help="Boot image version (v7 announcements).")
@click.option("--v6", is_flag=True, help="Announce like a v6 boot image (six fields).")
@click.option("--ports", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Ethernet ports (MACs) per board; each announces.")
@click.option("--format-time", type=float, default=0.5, show_default=True,
              help="Seconds the format takes.")
@click.option("--key-required", is_flag=True, help="Ignore offers without a licence key.")
@click.option("--image-too-old", is_flag=True, help="Go silent after the format command.")
@click.option("--drop", type=Number(0, 0.9), default=0.0, show_default=True,
              help="Probability of losing each frame, both directions.")
@click.option("--duplicate", type=Number(0, 0.9), default=0.0, show_default=True,
              help="Probability of sending a frame twice.")
@click.option("--link-delay", type=Number(0, 1000), default=0.0, show_default=True,
              help="Milliseconds each frame spends on the wire, each way (a long cable).")
@click.option("--chunk-delay", type=Number(0, 1000), default=0.0, show_default=True,
              help="Milliseconds a board needs for each data chunk, one at a time.")
@click.option("--die-after", type=click.IntRange(0), metavar="BYTES",
              help="Boards go silent (power loss) after receiving this many file bytes.")
@click.option("--reboot-after", type=click.IntRange(0), metavar="BYTES",
              help="Boards restart once after this many file bytes, then install again.")
@click.option("--reset-fraction", type=Number(0, 1), default=0.0, show_default=True,
              help="Share of boards that restart once, at a random point of their install.")
@click.option("--term-loss", type=Number(0, 3600), default=0.0, show_default=True,
              help="Seconds after its first WTRM during which a board loses every TERM.")
@click.option("--accept-key", "accept_keys", multiple=True, metavar="KEY",
              help="A licence key (base64) the boards accept besides their own (repeatable).")
@click.option("--mndp-after", type=Number(0, 3600), metavar="SECONDS",
              help="After its reboot, each board announces itself with MNDP as a booted "
                   "RouterOS (then every 5 s and when asked).")
@click.option("--mndp-version", metavar="VERSION",
              help="The version boards announce. Default: the system package they got.")
@click.option("--mndp-identity", metavar="NAME",
              help="The identity boards announce. Default: their script's, else MikroTik.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write each board's received files under DIR/<mac>/.")
@click.option("--timeout", type=float, default=600, show_default=True,
              help="Give up after this many seconds.")
@friendly_errors
def emulate(interface: str | None, loopback: str | None, out_dir: Path | None, timeout: float,
            **options: Any) -> None:
    """Emulated RouterBoards that net-install from a flasher; prints a JSON summary."""
    from nitools.commands.emulate import run_emulate

    sys.exit(run_emulate(interface, loopback, out_dir, timeout, **options))


@main.command()
@click.option("--boards", type=click.IntRange(1, 16), default=3, show_default=True)
@click.option("--size", "size_mib", type=Number(0.1, 64), default=4, show_default=True,
              help="Size of each synthetic system package in MiB.")
@click.option("--drop", type=Number(0, 0.5), default=0.0, show_default=True,
              help="Emulated frame loss.")
@click.option("--window", type=click.IntRange(1, 256), default=DEFAULTS.engine.window,
              show_default=True)
@click.option("--plain", is_flag=True, help="Log lines only, no live progress display.")
@friendly_errors
def demo(boards: int, size_mib: float, drop: float, window: int, plain: bool) -> None:
    """Flash emulated boards with synthetic packages, over loopback (no root needed)."""
    from nitools.commands.demo import run_demo

    sys.exit(run_demo(boards, int(size_mib * 1024 * 1024), drop, window, plain))


@main.command()
@click.option("--arch", help="The board's architecture (as it announces it, e.g. arm64).")
@click.option("--min-os", "min_version", help="The board's minimum RouterOS version.")
@click.option("--config", "config_script", type=RegularFile(),
              help="First-boot script (.rsc) to lint with the packages.")
@click.option("--mode-script", type=RegularFile(),
              help="Mode script (RouterOS 7.22+) to lint with the packages.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.argument("packages", nargs=-1, required=True, type=RegularFile())
@friendly_errors
def validate(packages: tuple[str, ...], arch: str | None, min_version: str | None,
             config_script: str | None, mode_script: str | None, as_json: bool) -> None:
    """Check packages (system package first) and scripts before flashing.

    Exit 0 without errors, 1 with errors, 2 for usage errors.
    """
    from nitools.commands.validate import run_validate

    sys.exit(run_validate(list(packages), arch, min_version, config_script, mode_script,
                          as_json))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.argument("files", nargs=-1, required=True, type=RegularFile())
@friendly_errors
def info(files: tuple[str, ...], as_json: bool) -> None:
    """Show what RouterOS packages (.npk) say about themselves."""
    from nitools.commands.validate import run_info

    sys.exit(run_info(list(files), as_json))


@main.command()
@click.argument("inputs", nargs=-1, type=RegularFile())
@click.option("--version", "routeros",  metavar="VERSION|CHANNEL",
              help="Fetch netinstall-VERSION.zip through the package cache and extract it.")
@click.option("--mirror", metavar="URL|DIR", envvar="NITOOLS_MIRROR",
              help="Where --version is fetched from. Default: https://upgrade.mikrotik.com")
@click.option("-o", "--output", "out_dir", default=".", show_default=True,
              help="Folder for the boot images and bootimages.json.")
@click.option("--list", "list_only", is_flag=True, help="Show what is inside; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@click.option("--force", is_flag=True, help="Replace existing images that differ.")
@friendly_errors
def extract(inputs: tuple[str, ...], routeros: str | None, mirror: str | None, out_dir: str,
            list_only: bool, as_json: bool, force: bool) -> None:
    """Boot images out of netinstall.exe, netinstall64.exe or their .zip.

    Each image is written as netinstall.<arch> with a bootimages.json manifest.
    netinstall-cli and its .tar.gz are read too (experimental). With --version, MikroTik's
    netinstall-VERSION.zip is fetched (or taken from the cache) first.
    """
    from nitools.commands.extract import run_extract
    from nitools.commands.fetch import fetch_netinstall

    files = list(inputs)
    if routeros:
        files.append(str(fetch_netinstall(routeros, mirror)))
    if not files:
        raise NitoolsUsageError("give netinstall.exe, its .zip or netinstall-cli, or "
                                "--version VERSION to fetch it")
    sys.exit(run_extract(files, out_dir, list_only, as_json, force))


@main.command()
@click.argument("routeros", required=False, metavar="[VERSION|CHANNEL]")
@click.option("--arch", "arches", multiple=True, metavar="ARCH",
              help="Package architecture: arm, arm64, mipsbe, mmips, smips, ppc, tile, x86. "
                   "Repeatable.")
@click.option("--package", "packages", multiple=True, metavar="NAME",
              help="An extra package besides routeros (container, wifi-qcom, ...). "
                   "Repeatable.")
@click.option("--all-packages", is_flag=True,
              help="Every package of all_packages-ARCH-VERSION.zip.")
@click.option("--netinstall", is_flag=True, help="Also netinstall-VERSION.zip (boot images).")
@click.option("--v6", is_flag=True, help="Resolve a channel among RouterOS v6 releases.")
@click.option("--mirror", metavar="URL|DIR", envvar="NITOOLS_MIRROR", show_envvar=True,
              help="Mirror with MikroTik's layout. Default: https://upgrade.mikrotik.com")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Cache folder. Default: $XDG_CACHE_HOME/nitools (~/.cache/nitools).")
@click.option("--refresh", is_flag=True, help="Download again what is already cached.")
@click.option("--timeout", type=Number(1, 3600), default=30.0, show_default=True,
              help="Seconds without a byte from the mirror before a download fails.")
@click.option("--list", "list_cache", is_flag=True, help="Show what the cache holds.")
@click.option("--prune", is_flag=True,
              help="Remove cached versions other than VERSION|CHANNEL.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly_errors
def fetch(**options: Any) -> None:
    """Fetch RouterOS packages by version or channel into the verified cache.

    Prints the cached paths, one per line. Every package is checked with nitools' own
    NPK reader (name, version, architecture, SHA-1) before it enters the cache.
    """
    from nitools.commands.fetch import run_fetch

    sys.exit(run_fetch(options))


@main.command()
@click.option("-i", "--interface", required=True, help="Interface the boards net-boot on.")
@click.option("--tftp-root", default=".", show_default=True,
              help="Folder with the boot images (from 'nitools extract').")
@click.option("--range", "range_spec", metavar="START,END",
              help="Addresses to hand out. Default: half of the interface's subnet.")
@click.option("--lease-time", default="1h", show_default=True)
@click.option("--server-ip", help="TFTP server address for the boards (next-server). "
              "Default: the interface's address.")
@click.option("--arch", "archs", multiple=True,
              help="Boot image to serve (repeatable). Default: all found in the TFTP root.")
@click.option("--lease-file", help="dnsmasq lease file of its own.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the config here.")
@click.option("--format", "output_format", type=click.Choice(["dnsmasq", "routeros"]),
              default="dnsmasq", show_default=True,
              help="routeros: the same set-up as RouterOS commands.")
@click.option("--run", "run_it", is_flag=True,
              help="Run dnsmasq in the foreground with this config (needs root).")
@click.option("-v", "--verbose", count=True, help="Show every dnsmasq log line.")
@friendly_errors
def dnsmasq(interface: str, tftp_root: str, range_spec: str | None, lease_time: str,
            server_ip: str | None, archs: tuple[str, ...], lease_file: str | None,
            output: str | None, output_format: str, run_it: bool, verbose: int) -> None:
    """Render (and check, or run) a dnsmasq netboot config for RouterBoards."""
    from nitools.commands.dnsmasq import run_dnsmasq_command

    setup_logging(verbose, None)
    sys.exit(run_dnsmasq_command(interface, tftp_root, range_spec, lease_time, server_ip,
                                 archs, lease_file, output, output_format, run_it))
