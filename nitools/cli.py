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
from nitools.station.engine.settings import EngineSettings
from nitools.station.setup.options import StationOptions, flags_given_twice
from nitools.station.setup.settings import Kind, Setting
from nitools.station.setup.settings import declared as declared_settings


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


_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click 8.2+


class OneLineErrors(click.Group):
    """click's usage errors (an unknown option, a bad value) as every other error of
    nitools: one line, ``nitools: error: ...``, and where help is, instead of click's
    usage block."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        given = list(args[0] if args and args[0] is not None else sys.argv[1:])
        if given and given[0] in ("flash", "station"):
            twice = flags_given_twice(given[1:])
            if twice:  # click takes a repeated flag silently
                click.echo(f"nitools: error: {twice[0]}: the same flag twice (a typo?): "
                           "give it once", err=True)
                sys.exit(2)
        try:
            code = super().main(*args, **kwargs)
        except _NO_ARGS_IS_HELP as exc:  # `nitools` alone: its help, as click shows it
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "nitools"
            click.echo(f"nitools: error: {exc.format_message()} (see '{where} --help')",
                       err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"nitools: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("nitools: interrupted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nitools")
def main() -> None:
    """Reinstall MikroTik RouterBoards over the network (netinstall)."""


class GroupedOption(click.Option):
    """An option that knows which section of ``--help`` it belongs to."""

    def __init__(self, *args: Any, group: str = "Options", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = group


class GroupedCommand(click.Command):
    """``--help`` in sections: the station's settings by their group, then the rest."""

    def format_options(self, context: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for parameter in self.get_params(context):
            record = parameter.get_help_record(context)
            if record is not None:
                sections.setdefault(getattr(parameter, "group", "Options"), []).append(record)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)


def _click_type(declared: Setting) -> dict[str, Any]:
    """How click reads and checks a setting of this kind."""
    match declared.kind:
        case Kind.FLAG:
            return {"is_flag": True}
        case Kind.COUNT:
            return {"count": True}
        case Kind.OPTION_VALUE:
            return {"callback": not_an_option}
        case Kind.FILE:
            return {"type": RegularFile()}
        case Kind.FOLDER:
            return {"type": click.Path(exists=True, file_okay=False)}
        case Kind.PATH:
            return {"type": click.Path()}
        case Kind.NUMBER:
            return {"type": Number(declared.low, declared.high)}
        case Kind.INTEGER:
            low = None if declared.low is None else int(declared.low)
            high = None if declared.high is None else int(declared.high)
            return {"type": click.IntRange(low, high)}
        case Kind.CHOICE:
            return {"type": click.Choice(declared.choices)}
    return {}


def _shown(value: Any) -> str | bool:
    if value is None:
        return False
    return ", ".join(value) if isinstance(value, tuple) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def _default(value: Any, shown: Any) -> dict[str, Any]:
    """click's default: the declared one where there is one (else click's own: off, 0,
    none), shown in --help with the default of the value's target."""
    if value in (None, (), False, 0):
        return {"show_default": _shown(shown)}
    return {"default": value, "show_default": True}


# The station's options, shared by flash and station: each from its one declaration in
# StationOptions (every one also NITOOLS_<OPTION>).
STATION_OPTIONS = [
    click.option(*declared.flags, field.name, cls=GroupedOption, group=declared.group.value,
                 help=declared.help, metavar=declared.metavar, multiple=declared.multiple,
                 **_click_type(declared), **_default(field.default, declared.shown_default))
    for field, declared in declared_settings(StationOptions)
]


NETBOOT_GROUP = "Boot images and addresses ('station': BOOTP/DHCP + TFTP)"
netboot_option = functools.partial(click.option, cls=GroupedOption, group=NETBOOT_GROUP)


def station_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(STATION_OPTIONS):
        command = option(command)
    return command


@from_environment
@main.command(cls=GroupedCommand)
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

    sys.exit(run_flash(StationOptions.from_click(options)))


@from_environment
@main.command(cls=GroupedCommand)
@station_options
@netboot_option("--tftp-root", type=click.Path(file_okay=False),
              help="Folder with the boot images (from 'nitools extract'); with "
                   "--boot-version, where the fetched ones are extracted.")
@netboot_option("--boot-version", metavar="VERSION|CHANNEL",
              help="Serve the boot images of netinstall-VERSION.zip, fetched through the "
                   "cache. Default without --tftp-root: the --routeros version.")
@netboot_option("--range", "range_spec", metavar="START,END",
              help="Addresses to hand out. Default: half of each interface's subnet.")
@netboot_option("--lease-time", default="1h", show_default=True, help="DHCP lease time.")
@netboot_option("--server-ip", help="TFTP server address to announce. Default: the interface's.")
@netboot_option("--boot-arch", "boot_archs", multiple=True, metavar="ARCH",
              help="Serve only these boot images (repeatable). Default: all in the folder.")
@netboot_option("--no-dhcp", is_flag=True,
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

    netboot = {name: options.pop(name) for name in ("tftp_root", "boot_version", "range_spec",
                                                    "lease_time", "server_ip", "boot_archs",
                                                    "no_dhcp")}
    sys.exit(run_station_command(StationOptions.from_click(options),
                                 NetbootOptions(**{**netboot,
                                                   "boot_archs": tuple(netboot["boot_archs"])})))


def operator_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Which station an operator's command talks to: this machine's (its control socket),
    or a remote one over its HTTP API."""
    for option in reversed([
        click.option("--station-name", metavar="NAME", envvar="NITOOLS_STATION_NAME",
                     show_envvar=True, help="The station on this machine (needed when "
                     "several run)."),
        click.option("--station", "url", metavar="URL", envvar="NITOOLS_STATION_URL",
                     show_envvar=True, help="A station's web view, e.g. "
                     "http://10.0.0.2:8080 (instead of this machine's)."),
        click.option("--token", metavar="TOKEN", envvar="NITOOLS_WEB_TOKEN",
                     show_envvar=True, help="The remote station's --web-token."),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
    ]):
        command = option(command)
    return command


@main.command()
@click.argument("macs", nargs=-1, metavar="MAC...")
@click.option("--all", "all_held", is_flag=True, help="Every board held now.")
@operator_options
@friendly_errors
def approve(macs: tuple[str, ...], all_held: bool, station_name: str | None,
            url: str | None, token: str | None, as_json: bool) -> None:
    """Offer held boards their install now (a station run with --hold).

    \b
      sudo nitools approve 02:4e:49:00:00:01
      sudo nitools approve --all
    """
    from nitools.commands.operator import run_action

    if not macs and not all_held:
        raise NitoolsUsageError("name the boards (MAC...), or --all for every held board")
    sys.exit(run_action("approve", list(macs), all_held, station_name, url, token, as_json))


@main.command()
@click.argument("macs", nargs=-1, required=True, metavar="MAC...")
@operator_options
@friendly_errors
def skip(macs: tuple[str, ...], station_name: str | None, url: str | None,
         token: str | None, as_json: bool) -> None:
    """Never offer these boards in this run (journaled skipped, cause operator).

    \b
      sudo nitools skip 02:4e:49:00:00:01
    """
    from nitools.commands.operator import run_action

    sys.exit(run_action("skip", list(macs), False, station_name, url, token, as_json))


@main.command()
@click.argument("mac", metavar="MAC")
@operator_options
@friendly_errors
def reinstall(mac: str, station_name: str | None, url: str | None, token: str | None,
              as_json: bool) -> None:
    """Install this board again when it next net-boots (forgets --once and -o for it).

    \b
      sudo nitools reinstall 02:4e:49:00:00:01
    """
    from nitools.commands.operator import run_action

    sys.exit(run_action("reinstall", [mac], False, station_name, url, token, as_json))


@main.command()
@click.argument("mac", metavar="MAC")
@operator_options
@friendly_errors
def reboot(mac: str, station_name: str | None, url: str | None, token: str | None,
           as_json: bool) -> None:
    """Reboot a board waiting after its install (a station run with --after-install wait).

    \b
      sudo nitools reboot 02:4e:49:00:00:01
    """
    from nitools.commands.operator import run_action

    sys.exit(run_action("reboot", [mac], False, station_name, url, token, as_json))


@main.command()
@operator_options
@friendly_errors
def boards(station_name: str | None, url: str | None, token: str | None,
           as_json: bool) -> None:
    """The running station's boards: phases and plans (packages, version, identity,
    script SHA-256).

    \b
      sudo nitools boards
      nitools boards --station http://10.0.0.2:8080 --token T --json
    """
    from nitools.commands.operator import run_boards

    sys.exit(run_boards(station_name, url, token, as_json))


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
@click.option("--fact", "facts", multiple=True, metavar="NAME[@BOARD]=VALUE",
              help="A board fact the station would know (arch=arm64, model=RB5009, ...), "
              "for every board, or for one: port@02:4e:49:00:00:01=ether2.")
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
@click.option("-i", "--interface", help="Interface to emulate boards on (root or "
              "CAP_NET_RAW before Linux 5.7; use one inside a network namespace).")
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
@click.option("--window", type=click.IntRange(1, 256), default=EngineSettings.window,
              show_default=True)
@click.option("--plain", is_flag=True, help="Log lines only, no live progress display.")
@click.option("--keep", metavar="DIR", type=click.Path(file_okay=False),
              help="Keep the demo's synthetic packages and script in DIR (to try "
              "'nitools emulate' with 'nitools flash').")
@friendly_errors
def demo(boards: int, size_mib: float, drop: float, window: int, plain: bool,
         keep: str | None) -> None:
    """Flash emulated boards with synthetic packages, over loopback (no root needed)."""
    from nitools.commands.demo import run_demo

    sys.exit(run_demo(boards, int(size_mib * 1024 * 1024), drop, window, plain, keep))


@main.command()
@click.option("--arch", help="The board's architecture (as it announces it, e.g. arm64).")
@click.option("--min-os", "min_version", help="The board's minimum RouterOS version.")
@click.option("--config", "config_script", type=RegularFile(),
              help="First-boot script (.rsc) to lint with the packages.")
@click.option("--mode-script", type=RegularFile(),
              help="Mode script (RouterOS 7.22+) to lint with the packages.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.argument("packages", nargs=-1, required=True, type=RegularFile(), metavar="FILE...")
@friendly_errors
def validate(packages: tuple[str, ...], arch: str | None, min_version: str | None,
             config_script: str | None, mode_script: str | None, as_json: bool) -> None:
    """Check packages (system package first) and scripts before flashing.

    Each FILE is a package (.npk) or a script (.rsc); scripts named on their own are
    linted each as a script, many at once:

      nitools validate --json scripts/*.rsc

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
@click.option("--router-address", metavar="ADDR/PREFIX",
              help="--format routeros: the router's address on -i (e.g. 192.168.88.1/24); "
              "-i and --tftp-root are then the router's interface and folder.")
@click.option("--run", "run_it", is_flag=True,
              help="Run dnsmasq in the foreground with this config (needs root).")
@click.option("-v", "--verbose", count=True, help="Show every dnsmasq log line.")
@friendly_errors
def dnsmasq(interface: str, tftp_root: str, range_spec: str | None, lease_time: str,
            server_ip: str | None, archs: tuple[str, ...], lease_file: str | None,
            output: str | None, output_format: str, router_address: str | None,
            run_it: bool, verbose: int) -> None:
    """Render (and check, or run) a dnsmasq netboot config for RouterBoards.

    \b
      nitools dnsmasq -i eth1 --tftp-root /srv/netinstall --run
      nitools dnsmasq -i bridge1 --tftp-root /netinstall --format routeros \\
          --router-address 192.168.88.1/24
    """
    from nitools.commands.dnsmasq import run_dnsmasq_command

    setup_logging(verbose, None)
    sys.exit(run_dnsmasq_command(interface, tftp_root, range_spec, lease_time, server_ip,
                                 archs, lease_file, output, output_format, run_it,
                                 router_address))
