"""The one place where the command line (and its ``NITOOLS_*`` variables) and the ini
file are merged into a ``StationConfig``. The engine's defaults are ``EngineSettings``',
the ini's vocabulary is ``station.plan.ini``'s."""

from __future__ import annotations

import configparser
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from nitools.errors import UsageError
from nitools.fetch.releases import ReleaseChoice
from nitools.netinstall.frame import parse_mac_option
from nitools.station.engine.settings import EngineSettings
from nitools.station.plan.ini import DEFAULT_CONFIG, InstallDefaults, settings
from nitools.station.setup.options import StationOptions

_ENGINE_FIELDS = frozenset(f.name for f in fields(EngineSettings))

@dataclass(frozen=True)
class StationConfig:
    """Everything a station run is told, merged once at start. Immutable once built."""

    config_path: str = DEFAULT_CONFIG
    interfaces: tuple[str, ...] = ("eth0",)  # names or MACs; several = several ports
    loopback: str | None = None  # LOCAL:PEER ports on 127.0.0.1 instead of an interface
    journal: str | None = None  # None: $XDG_STATE_HOME/nitools/journal.sqlite3
    station_name: str | None = None  # None: HOST:INTERFACE
    engine: EngineSettings = field(default_factory=EngineSettings)  # the policies, the wire
    defaults: InstallDefaults = field(default_factory=InstallDefaults)  # what boards get
    release: ReleaseChoice = field(default_factory=ReleaseChoice)  # flash by version


DEFAULTS = StationConfig()


# ------------------------------------------------------------------- merge


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
    engine_given = {name: value for name, value in given.items()
                    if name in _ENGINE_FIELDS and name != "macs"}  # MACs: parsed below
    if options.verify and options.no_mndp:
        raise UsageError("--verify listens for boards in service; --no-mndp turns that off: "
                         "drop one")
    timers = {name: float(given[name]) for name in ("format_timeout", "reboot_timeout")
              if given.get(name) is not None}
    engine = replace(DEFAULTS.engine, **engine_given, mndp=not options.no_mndp,
                     macs=parse_mac_option(options.macs) or None,
                     timing=replace(DEFAULTS.engine.timing, **timers))
    return replace(DEFAULTS, journal=pick("journal"), station_name=pick("station_name"),
                   interfaces=options.interfaces or DEFAULTS.interfaces,
                   config_path=options.config_path or DEFAULTS.config_path,
                   loopback=options.loopback, engine=engine, defaults=defaults,
                   release=release)


def station_name(config: StationConfig) -> str:
    """How this station signs its journal rows."""
    if config.station_name:
        return config.station_name
    where = f"loopback {config.loopback}" if config.loopback else "+".join(config.interfaces)
    return f"{socket.gethostname()}:{where}"
