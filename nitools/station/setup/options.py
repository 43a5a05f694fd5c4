"""What the command line said for ``flash`` and ``station``, as one typed, frozen object,
and THE declaration of every station setting: each field says its flags, help, kind,
group, ini key and where its value goes (``settings.py``). ``cli.py`` builds the click
options from it (each also ``NITOOLS_<OPTION>``); ``config.station_config`` merges it
over the ini file. ``None`` means "not given": the ini file or the defaults decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from nitools.errors import UsageError
from nitools.netinstall.server import Timing
from nitools.station.engine.contract import ConfigMode
from nitools.station.engine.settings import AFTER_INSTALL, EngineSettings
from nitools.station.plan.ini import CONFIG_MODES, DEFAULT_CONFIG, UNLISTED_CHOICES
from nitools.station.setup.settings import Group, Kind, Target, declared, setting

G, K, T = Group, Kind, Target
DEFAULT_INTERFACES: tuple[str, ...] = ()  # none named: chosen by evidence (choose_ports)


@dataclass(frozen=True)
class StationOptions:
    # Which boards, and when the run ends
    config_path: str | None = setting(
        "-c", "--config", help="ini file ([nitools] or [pynetinstall] section).",
        group=G.RUN, to=T.COMMAND, shown_default=DEFAULT_CONFIG)
    interfaces: tuple[str, ...] = setting(
        "-i", "--interface", help="Interface name, or that interface's MAC address. Repeat "
        "it to serve several ports from one station. Default: the ini's interface=, else "
        "the one Ethernet interface that is up and not the default route's.",
        group=G.RUN, to=T.STATION, kind=K.TEXT, multiple=True, default=DEFAULT_INTERFACES,
        ini="interface")
    one_shot: bool = setting(
        "-1", "--one-shot", help="Exit after one board: 0 if it was installed, 1 if it "
        "failed.", group=G.RUN, to=T.ENGINE, kind=K.FLAG, default=False)
    count: int | None = setting(
        "--count", help="Exit after N boards (installed or failed); 0 only if all were "
        "installed.", group=G.RUN, to=T.ENGINE, kind=K.INTEGER, low=1, metavar="N")
    macs: tuple[str, ...] = setting(
        "--mac", help="Serve only the board announcing with this MAC (repeatable).",
        group=G.RUN, to=T.ENGINE, kind=K.TEXT, multiple=True, metavar="MAC")
    once: bool = setting(
        "--once", help="Install each board at most once per journal.", group=G.RUN,
        to=T.ENGINE, kind=K.FLAG, default=False)
    hold: bool = setting(
        "--hold", help="Hold each board once its files are checked: in etherboot, not "
        "offered, until an operator approves it ('nitools approve MAC').", group=G.RUN,
        to=T.ENGINE, kind=K.FLAG, default=False, ini="hold")
    after_install: str | None = setting(
        "--after-install", help="What an installed board is told: reboot now, or wait in "
        "etherboot for 'nitools reboot MAC'.", group=G.RUN, to=T.ENGINE, kind=K.CHOICE,
        choices=AFTER_INSTALL, ini="after_install", shown_default=EngineSettings.after_install)
    journal: str | None = setting(
        "--journal", help="Journal of every attempt: a SQLite file, or postgresql://... "
        "shared by several stations. Default: $XDG_STATE_HOME/nitools/journal.sqlite3.",
        group=G.RUN, to=T.STATION, metavar="PATH|URL", ini="journal")
    station_name: str | None = setting(
        "--station-name", help="This station's name in the journal. Default: "
        "HOST:INTERFACE.", group=G.RUN, to=T.STATION, metavar="NAME", ini="station_name")
    # What each board gets
    config_mode: str | None = setting(
        "--config-mode", help="default: RouterOS default configuration; empty: none at "
        "all; script: the first-boot script; keep: the board's old configuration.",
        group=G.BOARD, to=T.INSTALL, kind=K.CHOICE, choices=CONFIG_MODES, ini="config_mode")
    script: str | None = setting(
        "-s", "--script", help="First-boot script (.rsc), sent as autorun.scr; overrides "
        "config=.", group=G.BOARD, to=T.INSTALL, kind=K.FILE)
    key_file: str | None = setting(
        "-k", "--key-file", help="MikroTik .key file to install as the board's licence.",
        group=G.BOARD, to=T.INSTALL, kind=K.FILE, ini="key_file")
    mode_script: str | None = setting(
        "-sm", "--mode-script", help="Mode script (RouterOS 7.22+), sent as mode.scr.",
        group=G.BOARD, to=T.INSTALL, kind=K.FILE, ini="mode_script")
    branding: str | None = setting(
        "--branding", help="Branding package (.dpk) to install.", group=G.BOARD,
        to=T.INSTALL, kind=K.FILE, ini="branding")
    # RouterOS by version
    routeros: str | None = setting(
        "--routeros", help="Install this RouterOS version (7.16.1) or channel's newest "
        "(stable, testing, long-term, development): each board gets the packages for its "
        "architecture, fetched into the cache on first need.", group=G.RELEASE,
        to=T.RELEASE, metavar="VERSION|CHANNEL", ini="routeros")
    release_packages: tuple[str, ...] = setting(
        "--package", help="With --routeros or --packages-dir: an extra package (container, "
        "wifi-qcom, ...). Repeatable.", group=G.RELEASE, to=T.RELEASE, kind=K.TEXT,
        multiple=True, metavar="NAME", ini="packages")
    mirror: str | None = setting(
        "--mirror", help="Where packages and channels are fetched from (MikroTik's "
        "layout). Default: https://upgrade.mikrotik.com", group=G.RELEASE, to=T.RELEASE,
        metavar="URL|DIR", ini="mirror")
    packages_dir: str | None = setting(
        "--packages-dir", help="A folder of .npk files: each board gets the ones whose "
        "headers say its architecture (and --routeros version, if given).",
        group=G.RELEASE, to=T.RELEASE, kind=K.FOLDER, ini="packages_dir")
    # Every board its own configuration (docs/inventory.md)
    inventory: str | None = setting(
        "--inventory", help="Boards and their own settings: CSV, JSON, or a URL (with "
        "{mac} or {software_id}: asked per board). See docs/inventory.md.",
        group=G.INVENTORY, to=T.INSTALL, metavar="FILE|URL", ini="inventory")
    config_template: str | None = setting(
        "--config-template", help="Jinja2 first-boot script rendered per board from its "
        "inventory row and facts; values are escaped for RouterOS.", group=G.INVENTORY,
        to=T.INSTALL, kind=K.FILE, ini="config_template")
    unlisted: str | None = setting(
        "--unlisted", help="A board the inventory does not list: refuse (the default) "
        "leaves it alone; default installs it with the station's own settings.",
        group=G.INVENTORY, to=T.INSTALL, kind=K.CHOICE, choices=UNLISTED_CHOICES,
        ini="unlisted")
    inventory_settings: str | None = setting(
        "--inventory-settings", help="What a URL inventory may set per board, "
        "comma-separated: routeros, packages, config_mode (by default none: a server the "
        "station does not control never picks the release or skips the template).",
        group=G.INVENTORY, to=T.INSTALL, metavar="NAMES", ini="inventory_settings")
    inventory_token: str | None = setting(
        "--inventory-token", help="Sent to a URL inventory as 'Authorization: Bearer "
        "TOKEN' (or as given, when it names its scheme: 'Token 0123...'), never logged: "
        "keep secrets out of the URL.", group=G.INVENTORY, to=T.INSTALL, metavar="TOKEN",
        ini="inventory_token", secret=True)
    device_mode: str | None = setting(
        "--device-mode", help="auto: a mode script turning on device-mode for "
        "container/zerotier (RouterOS 7.22+); or the settings, e.g. \"mode=advanced "
        "container=yes\".", group=G.INVENTORY, to=T.INSTALL, metavar="off|auto|SETTINGS",
        ini="device_mode")
    # Proof in service (docs/verify.md)
    verify: bool = setting(
        "--verify", help="A board must be seen in service (MNDP: the version installed) "
        "after its reboot; -1 and --count wait for it, and exit 1 if not.",
        group=G.VERIFY, to=T.ENGINE, kind=K.FLAG, default=False)
    verify_timeout: float | None = setting(
        "--verify-timeout", help="Seconds from a board's reboot to its first MNDP "
        "announcement.", group=G.VERIFY, to=T.ENGINE, kind=K.NUMBER, low=1, high=86400,
        shown_default=EngineSettings.verify_timeout)
    no_mndp: bool = setting(
        "--no-mndp", help="Do not listen for boards in service (UDP 5678).",
        group=G.VERIFY, to=T.COMMAND, kind=K.FLAG, default=False)
    announce_timeout: float | None = setting(
        "--announce-timeout", help="'station': seconds from a board's boot image (TFTP) to "
        "its first netinstall announcement; a board not heard by then is 'silent'.",
        group=G.VERIFY, to=T.ENGINE, kind=K.NUMBER, low=1, high=3600,
        shown_default=EngineSettings.announce_timeout)
    # Timers and the wire
    format_timeout: float | None = setting(
        "--format-timeout", help="Seconds to wait for a board to format its disk.",
        group=G.TIMERS, to=T.TIMING, kind=K.NUMBER, low=1, high=3600,
        shown_default=Timing.format_timeout)
    reboot_timeout: float | None = setting(
        "--reboot-timeout", help="Seconds to wait for a board to confirm its reboot (stop "
        "asking for TERM) before saying it was not confirmed.", group=G.TIMERS,
        to=T.TIMING, kind=K.NUMBER, low=1, high=3600, shown_default=Timing.reboot_timeout)
    grace: float | None = setting(
        "--grace", help="On Ctrl-C/SIGTERM: seconds running installs may still take.",
        group=G.TIMERS, to=T.ENGINE, kind=K.NUMBER, low=0, high=3600,
        shown_default=EngineSettings.grace)
    window: int | None = setting(
        "--window", help="Most frames in flight per board; the window adapts to loss "
        "below it. 1 = stop-and-wait.", group=G.TIMERS, to=T.ENGINE, kind=K.INTEGER,
        low=1, high=256, shown_default=EngineSettings.window)
    loopback: str | None = setting(
        "--loopback", help="Use UDP on 127.0.0.1 instead of an interface (tests, demos).",
        group=G.TIMERS, to=T.STATION, metavar="LOCAL:PEER")
    # What people see
    verbose: int = setting(
        "-v", "--verbose", help="More log detail (repeatable).", group=G.PEOPLE,
        to=T.COMMAND, kind=K.COUNT, default=0)
    logging_config: str | None = setting(
        "-l", "--logging", help="Python logging config file (logging.config.fileConfig "
        "format).", group=G.PEOPLE, to=T.COMMAND, kind=K.PATH)
    plain: bool = setting(
        "--plain", help="Log lines only, no live progress display.", group=G.PEOPLE,
        to=T.COMMAND, kind=K.FLAG, default=False)
    log_keys: bool = setting(
        "--log-keys", help="Show the licence key each board announces in the log (hidden "
        "by default).", group=G.PEOPLE, to=T.COMMAND, kind=K.FLAG, default=False)
    metrics: str | None = setting(
        "--metrics", help="Serve Prometheus metrics at http://ADDR:PORT/metrics (ADDR "
        "defaults to 127.0.0.1; needs nitools[metrics]).", group=G.PEOPLE, to=T.COMMAND,
        metavar="[ADDR:]PORT")
    web: str | None = setting(
        "--web", help="Serve the live web view (boards in progress, history) at "
        "http://ADDR:PORT/ (ADDR defaults to 127.0.0.1).", group=G.PEOPLE, to=T.COMMAND,
        metavar="[ADDR:]PORT")
    web_token: str | None = setting(
        "--web-token", help="Bearer token the web view requires (needed when ADDR is not "
        "loopback); browsers pass it as ?token=TOKEN.", group=G.PEOPLE, to=T.COMMAND,
        metavar="TOKEN")
    health_file: str | None = setting(
        "--health-file", help="Touch PATH every few seconds while the station runs (for "
        "'nitools health' and container health checks).", group=G.PEOPLE, to=T.COMMAND,
        metavar="PATH")
    # netinstall-cli's flags (docs/flash.md has the table)
    default_config: bool = setting(
        "-r", "--default-config", help="netinstall-cli -r: RouterOS default configuration.",
        group=G.NETINSTALL_CLI, to=T.COMMAND, kind=K.FLAG, default=False)
    empty_config: bool = setting(
        "-e", "--empty-config", help="netinstall-cli -e: no configuration at all.",
        group=G.NETINSTALL_CLI, to=T.COMMAND, kind=K.FLAG, default=False)
    multiple: bool = setting(
        "-m", "--multiple", help="netinstall-cli -m: with packages given, serve boards until "
        "stopped (without it: one board, then exit).", group=G.NETINSTALL_CLI,
        to=T.COMMAND, kind=K.FLAG, default=False)
    once_per_mac: bool = setting(
        "-o", "--once-per-mac", help="netinstall-cli -o: install each board (MAC) at most "
        "once in this run.", group=G.NETINSTALL_CLI, to=T.ENGINE, kind=K.FLAG,
        default=False)
    discard_branding: bool = setting(
        "-b", "--discard-branding", help="netinstall-cli -b: refused, how it goes on the "
        "wire is not known.", group=G.NETINSTALL_CLI, to=T.COMMAND, kind=K.FLAG,
        default=False)
    address: str | None = setting(
        "-a", "--address", help="netinstall-cli -a: the one address BOOTP hands out "
        "('nitools station' with one -i; 'flash' has no BOOTP server and refuses it).",
        group=G.NETINSTALL_CLI, to=T.COMMAND, metavar="ADDR")
    # Not an option: netinstall-cli's way, the package files as the command's arguments
    packages: tuple[str, ...] = field(default=(), metadata={"argument": True})

    @classmethod
    def from_click(cls, values: dict[str, Any]) -> StationOptions:
        """click's keyword arguments; lists become tuples (the object is immutable)."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise TypeError(f"options StationOptions does not know: {sorted(unknown)}")
        return cls(**{name: tuple(value) if isinstance(value, list) else value
                      for name, value in values.items()})

    def given(self) -> dict[str, Any]:
        """The options that were set (not None), by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


def flags_given_twice(args: list[str]) -> list[str]:
    """On/off flags given more than once (``-rr``, ``-r -r``, ``-r --default-config``):
    click takes them silently; a command line that says a thing twice is likely a typo."""
    by_flag = {flag: option.name for option, declared_setting in declared(StationOptions)
               if declared_setting.kind is Kind.FLAG for flag in declared_setting.flags}
    seen: dict[str, list[str]] = {}
    for token in args:
        if token == "--":
            break
        if token.startswith("--"):
            spelled = [token.split("=", 1)[0]]
        elif token.startswith("-") and len(token) > 2 and \
                all(f"-{letter}" in by_flag for letter in token[1:]):
            spelled = [f"-{letter}" for letter in token[1:]]  # a cluster such as -rm
        else:
            spelled = [token]
        for flag in spelled:
            if flag in by_flag:
                seen.setdefault(by_flag[flag], []).append(flag)
    return [" and ".join(flags) for flags in seen.values() if len(flags) > 1]


def netinstall_cli_meaning(options: StationOptions) -> StationOptions:
    """netinstall-cli's flags as nitools settings (docs/flash.md has the table)."""
    if options.discard_branding:
        raise UsageError("-b (discard branding) is refused: how netinstall-cli tells a board "
                         "to discard its branding is not known, and nitools will not guess")
    if options.address:
        raise UsageError("-a sets the address BOOTP hands out; nitools flash has no BOOTP "
                         "server: use 'nitools station -a ADDR' (flash and BOOTP in one)")
    if options.one_shot and (options.multiple or (options.count or 1) != 1):
        other = "-m" if options.multiple else f"--count {options.count}"
        raise UsageError(f"-1 and {other}: choose one way to end the run (-1: one board, "
                         "--count N: N boards, -m: until stopped)")
    chosen = [name for name, flag in (("-r", options.default_config),
                                      ("-e", options.empty_config),
                                      ("-s", options.script)) if flag]
    if len(chosen) > 1 or (chosen and options.config_mode):
        given = ", ".join(chosen + (["--config-mode"] if options.config_mode else []))
        raise UsageError(f"{given}: choose one configuration (-r default, -e empty, "
                         "-s script, or none of them to keep the old one)")
    config_mode = options.config_mode
    if options.default_config:
        config_mode = ConfigMode.DEFAULT.value
    elif options.empty_config:
        config_mode = ConfigMode.EMPTY.value
    elif options.script:
        config_mode = ConfigMode.SCRIPT.value
    elif options.config_template:
        config_mode = config_mode or ConfigMode.SCRIPT.value
    elif options.packages and not config_mode:
        config_mode = ConfigMode.KEEP.value  # netinstall-cli's default, unlike the ini's
    one_shot = options.one_shot or bool(options.packages and not options.multiple
                                        and not options.count)
    return replace(options, config_mode=config_mode, one_shot=one_shot)
