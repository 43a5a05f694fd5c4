"""The one place where the command line (and its ``NITOOLS_*`` variables) and the ini
file are merged into a ``StationConfig``. The engine's defaults are ``EngineSettings``',
the ini's vocabulary is ``station.plan.ini``'s."""

from __future__ import annotations

import configparser
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from nitools.errors import UsageError
from nitools.fetch.releases import ReleaseChoice
from nitools.netinstall.frame import parse_mac_option
from nitools.station.engine.settings import EngineSettings
from nitools.station.plan.ini import DEFAULT_CONFIG, InstallDefaults, parse_yes_no, settings
from nitools.station.setup.options import DEFAULT_INTERFACES, StationOptions
from nitools.station.setup.settings import Kind, Setting, Target, declared


@dataclass(frozen=True)
class StationConfig:
    """Everything a station run is told, merged once at start. Immutable once built."""

    config_path: str = DEFAULT_CONFIG
    interfaces: tuple[str, ...] = DEFAULT_INTERFACES  # names or MACs; several = several ports
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
    """Merge command-line options (``None`` = not given) over ini keys over the defaults,
    each setting to where its declaration (``StationOptions``) says it goes."""
    section: Mapping[str, Any] = settings(ini) if ini is not None else {}
    if options.verify and options.no_mndp:
        raise UsageError("--verify listens for boards in service; --no-mndp turns that off: "
                         "drop one")
    merged: dict[Target, dict[str, Any]] = {target: {} for target in Target}
    for option, declared_setting in declared(StationOptions):
        value = getattr(options, option.name)
        # A flag left off on the command line is not given: the ini may turn it on
        not_given = value in (None, ()) or (declared_setting.kind is Kind.FLAG and not value)
        if not_given and declared_setting.ini is not None:
            value = _from_ini(section, declared_setting)
        if value not in (None, ()):
            merged[declared_setting.to][option.name] = value
    engine = merged[Target.ENGINE]
    engine["macs"] = parse_mac_option(engine.get("macs", ())) or None
    engine["mndp"] = not options.no_mndp
    engine["timing"] = replace(DEFAULTS.engine.timing, **{
        name: float(value) for name, value in merged[Target.TIMING].items()})
    release = merged[Target.RELEASE]
    if "release_packages" in release:
        release["packages"] = tuple(release.pop("release_packages"))
    station = merged[Target.STATION]
    return replace(DEFAULTS, **station, engine=replace(DEFAULTS.engine, **engine),
                   defaults=InstallDefaults(**merged[Target.INSTALL]),
                   release=ReleaseChoice(**release),
                   config_path=options.config_path or DEFAULTS.config_path)


def _from_ini(section: Mapping[str, Any], declared_setting: Setting) -> Any:
    """A setting's ini value: blank is not given; a multiple one is one item a line."""
    text = section.get(declared_setting.ini or "") or None
    if text is not None and declared_setting.kind is Kind.FLAG:
        return parse_yes_no(text, declared_setting.ini or "")
    if text is not None and declared_setting.kind is Kind.CHOICE \
            and text.strip() not in declared_setting.choices:
        raise UsageError(f"{declared_setting.ini}={text} is not one of "
                         f"{', '.join(declared_setting.choices)}")
    if text is None or not declared_setting.multiple:
        return text
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def station_name(config: StationConfig) -> str:
    """How this station signs its journal rows."""
    if config.station_name:
        return config.station_name
    where = f"loopback {config.loopback}" if config.loopback else "+".join(config.interfaces)
    return f"{socket.gethostname()}:{where}"
