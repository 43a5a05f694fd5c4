"""THE station configuration: every default declared once, and the one place
where the command line and the ini file are merged.

``click`` reads its defaults from ``DEFAULTS``; the station core, the flash
command and the demo all take a ``StationConfig``. The ini file is drop-in
compatible with pyNetinstall's (section ``[pynetinstall]`` or ``[nitools]``).
"""

from __future__ import annotations

import configparser
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from nitools.errors import ConfigError, UsageError
from nitools.fetch.releases import ReleaseChoice
from nitools.netinstall.frame import parse_mac
from nitools.netinstall.server import Timing
from nitools.station.setup.options import StationOptions

log = logging.getLogger("nitools.config")

DEFAULT_CONFIG = "/etc/nitools.ini"
PYNETINSTALL_CONFIG = "/etc/pynetinstall.ini"  # used when only pyNetinstall's file exists
SECTIONS = ("nitools", "pynetinstall")
CONFIG_MODES = ("default", "empty", "script", "keep")
UNLISTED_CHOICES = ("refuse", "default")  # --unlisted: boards the inventory does not list
# Station-wide settings an ini section may carry besides the plugin's own keys.
INI_SETTINGS = ("config_mode", "key_file", "mode_script", "branding", "journal",
                "station_name", "inventory", "config_template", "unlisted", "device_mode")
# Flash by version (nitools.fetch.releases): ini keys, also --routeros, --package, ...
RELEASE_SETTINGS = ("routeros", "packages", "mirror", "packages_dir")


@dataclass(frozen=True)
class InstallDefaults:
    """Station-wide choices (flash options and ini keys); plugins may override per board."""

    config_mode: str | None = None  # None: follow the plugin's / ini's config
    script: Any = None  # a first-boot script replacing the ini's config=
    key_file: Any = None
    mode_script: Any = None
    branding: Any = None
    # Per board (docs/inventory.md): read and checked at start by station.per_board.
    inventory: str | None = None
    config_template: str | None = None
    unlisted: str | None = None
    device_mode: str | None = None

    def __post_init__(self) -> None:
        if self.config_mode is not None and self.config_mode not in CONFIG_MODES:
            raise UsageError(f"config_mode={self.config_mode} is not one of "
                             f"{', '.join(CONFIG_MODES)}")


@dataclass(frozen=True)
class StationConfig:
    """Everything a station run is told. Immutable once built."""

    config_path: str = DEFAULT_CONFIG
    interfaces: tuple[str, ...] = ("eth0",)  # names or MACs; several = several ports
    loopback: str | None = None  # LOCAL:PEER ports on 127.0.0.1 instead of an interface
    one_shot: bool = False  # exit after one board
    count: int | None = None  # exit after this many finished boards
    macs: frozenset[bytes] | None = None  # serve only these boards
    once: bool = False  # a board the journal shows installed is left alone
    once_per_mac: bool = False  # a board installed in this run is not offered again (-o)
    journal: str | None = None  # None: $XDG_STATE_HOME/nitools/journal.sqlite3
    station_name: str | None = None  # None: HOST:INTERFACE
    grace: float = 60.0  # on stop: seconds running installs may still take
    window: int = 32  # the most frames in flight per board; 1 = stop-and-wait
    max_in_flight: int = 512  # the most frames in flight across all boards of the station
    max_preparing: int = 32  # boards whose files are being prepared at once; more wait
    flood_rate: int = 50  # new boards per second above which a board must announce twice
    timing: Timing = field(default_factory=Timing)
    retry_after: float = 10.0  # a board that failed is not offered again for this long
    mndp: bool = True  # listen for boards announcing themselves after the reboot
    verify: bool = False  # --verify: a board not seen in service is a failure; -1 waits
    verify_timeout: float = 300.0  # seconds from the reboot to its first announcement
    announce_timeout: float = 90.0  # from its boot image (TFTP) to netinstall, else silent
    log_keys: bool = False  # licence keys in the log only when asked for
    plain: bool = False  # log lines only, no live table
    verbose: int = 0
    logging_config: str | None = None
    defaults: InstallDefaults = field(default_factory=InstallDefaults)
    release: ReleaseChoice = field(default_factory=ReleaseChoice)


DEFAULTS = StationConfig()


# --------------------------------------------------------------------- ini


class IniConfig(configparser.ConfigParser):
    """A ConfigParser that remembers which file it came from."""

    def __init__(self, path: str = "") -> None:
        super().__init__(interpolation=None)
        self.path = os.path.abspath(path) if path else ""


def config_file(path: str, fallback: str = PYNETINSTALL_CONFIG) -> str:
    """The default ini, or pyNetinstall's default when only that one exists."""
    if path == DEFAULT_CONFIG and not os.path.exists(path) and os.path.exists(fallback):
        log.info("%s not found: using pyNetinstall's %s", path, fallback)
        return fallback
    return path


MAX_INI_BYTES = 1 << 20  # an ini file is a few lines; /dev/zero is not one


def load_ini(path: str) -> IniConfig:
    config = IniConfig(path)
    if os.path.exists(path) and not os.path.isfile(path):
        raise ConfigError(f"config file {path} is not a regular file: pass -c PATH to your "
                          "ini file")
    if os.path.isfile(path) and os.path.getsize(path) > MAX_INI_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_INI_BYTES} bytes: not an "
                          "ini file")
    try:
        with open(path, encoding="utf-8") as handle:
            config.read_file(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found: pass -c PATH to your ini file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except (configparser.Error, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(f"config file {path} is not a valid ini file: {first_line}") from exc
    return config


def settings(config: configparser.ConfigParser) -> configparser.SectionProxy:
    """The ``[nitools]`` or ``[pynetinstall]`` section."""
    for name in SECTIONS:
        if config.has_section(name):
            return config[name]
    source = getattr(config, "path", "") or "the config file"
    raise ConfigError(f"{source} has no [nitools] or [pynetinstall] section: add one")


# ------------------------------------------------------------------- merge


def parse_macs(texts: tuple[str, ...] | list[str]) -> frozenset[bytes] | None:
    if not texts:
        return None
    try:
        return frozenset(parse_mac(text) for text in texts)
    except ValueError as exc:
        raise UsageError(f"--mac: {exc}") from None


def station_config(options: StationOptions, ini: configparser.ConfigParser | None
                   ) -> StationConfig:
    """Merge command-line options (``None`` = not given) over ini keys over DEFAULTS."""
    section: Mapping[str, Any] = settings(ini) if ini is not None else {}
    given = options.given()

    def pick(name: str) -> Any:
        value = given.get(name)
        return value if value is not None else (section.get(name) or None)

    defaults = InstallDefaults(config_mode=pick("config_mode"), script=options.script,
                               key_file=pick("key_file"), mode_script=pick("mode_script"),
                               branding=pick("branding"), inventory=pick("inventory"),
                               config_template=pick("config_template"),
                               unlisted=pick("unlisted"), device_mode=pick("device_mode"))
    ini_packages = tuple(line.strip() for line in section.get("packages", "").splitlines()
                         if line.strip()) if section else ()
    release = ReleaseChoice(routeros=pick("routeros"),
                            packages=options.release_packages or ini_packages,
                            mirror=pick("mirror"), packages_dir=pick("packages_dir"))
    settings_given = {name: value for name, value in given.items()
                      if name in StationConfig.__dataclass_fields__}
    for name in ("journal", "station_name"):  # also from the ini
        if pick(name) is not None:
            settings_given[name] = pick(name)
    settings_given["mndp"] = not options.no_mndp
    if options.verify and options.no_mndp:
        raise UsageError("--verify listens for boards in service; --no-mndp turns that off: "
                         "drop one")
    settings_given["macs"] = parse_macs(options.macs)
    settings_given["interfaces"] = options.interfaces or DEFAULTS.interfaces
    settings_given["config_path"] = options.config_path or DEFAULTS.config_path
    timers = {name: float(given[name]) for name in ("format_timeout", "reboot_timeout")
              if given.get(name) is not None}
    timing = replace(DEFAULTS.timing, **timers)
    return replace(DEFAULTS, **settings_given, timing=timing, defaults=defaults,
                   release=release)


def station_name(config: StationConfig) -> str:
    """How this station signs its journal rows."""
    if config.station_name:
        return config.station_name
    where = f"loopback {config.loopback}" if config.loopback else "+".join(config.interfaces)
    return f"{socket.gethostname()}:{where}"
