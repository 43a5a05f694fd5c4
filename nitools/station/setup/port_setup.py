"""Who picks each board's files, for the station and for each of its ports.

The choices, in order: packages given as arguments (netinstall-cli's way), a
RouterOS version or packages folder (``--routeros``, ``--packages-dir``, or the
ini's ``routeros=``/``packages_dir=``), the ini's ``firmware=``, the ini's
``plugin=``. An ini section ``[port:IFACE]`` gives one port settings of its own:
its keys override the main section's; naming a way to pick packages there
(``firmware``, ``routeros``, ``packages_dir``, ``plugin``) replaces the main one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from nitools.errors import ConfigError, PackageError, UsageError
from nitools.fetch.mirror import DEFAULT_MIRROR, Mirror
from nitools.fetch.package_cache import PackageCache
from nitools.fetch.releases import ReleaseFiles, ReleasePlugin
from nitools.routeros.device_mode import DEVICE_MODE_SINCE, OFF, mode_script_for
from nitools.routeros.version import try_parse_version
from nitools.station.plan.ini import SECTIONS, IniConfig, config_file, load_ini, settings
from nitools.station.plan.inventory import TableInventory
from nitools.station.plan.plugins import PackageSetPlugin, check_keys, load_plugin, locate
from nitools.station.plan.rules import BoardRules, board_rules
from nitools.station.setup.config import DEFAULTS, StationConfig, station_config, station_name
from nitools.station.setup.options import StationOptions
from nitools.station.setup.settings import ini_keys
from nitools.wire.interfaces import flashing_candidates

PORT_SECTION = "port:"
INI_KEYS = ini_keys(StationOptions)  # the station-wide keys an ini section may carry
# Keys that name a way of picking packages, and what goes with each.
_CHOOSERS = ("firmware", "routeros", "packages_dir", "plugin")
_CHOICE_KEYS = (*_CHOOSERS, "additional_packages", "packages")


@dataclass(frozen=True)
class PortSetup:
    config: StationConfig
    plugin: Any
    releases: ReleaseFiles | None = None  # None: the plugin picks every file itself
    rules: BoardRules = field(default_factory=BoardRules)  # inventory, template, device-mode


class StationSetup:
    """The station's setup, and those of ports with a section of their own."""

    def __init__(self, main: PortSetup, ports: Mapping[str, PortSetup]) -> None:
        self.main = main
        self.ports = dict(ports)

    def for_port(self, port: str | None) -> PortSetup:
        return self.ports.get(port or "", self.main)

    def all(self) -> list[PortSetup]:
        return [self.main, *self.ports.values()]

    def cancel_downloads(self) -> None:
        """Downloads still running give up: their boards were never offered."""
        for chosen in self.all():
            if chosen.releases is not None:
                chosen.releases.cancel()


def station_setup(options: StationOptions) -> StationSetup:
    ini = _station_ini(options)
    main = _setup(options, ini)
    ports = {}
    if ini is not None:
        for section in ini.sections():
            if not section.startswith(PORT_SECTION):
                continue
            port = section[len(PORT_SECTION):].strip()
            if port not in main.config.interfaces:
                raise ConfigError(f"{ini.path}: [{section}] names no interface of this station "
                                  f"({', '.join(main.config.interfaces)}): fix the name or -i")
            ports[port] = _setup(options, _port_ini(ini, section))
    return StationSetup(main, ports)


def _station_ini(options: StationOptions) -> IniConfig | None:
    if options.packages and options.config_path:
        raise UsageError(f"packages as arguments take no ini file: drop -c "
                         f"{options.config_path}, or name the packages in the ini")
    path = config_file(options.config_path or DEFAULTS.config_path)
    release_on_cli = bool(options.routeros or options.packages_dir)
    default_missing = path == DEFAULTS.config_path and not os.path.exists(path)
    if options.packages or (release_on_cli and default_missing):
        return None  # nothing to read: the command line says it all
    if default_missing and not options.config_path:
        raise ConfigError(f"say what to install: packages as arguments (routeros-*.npk), "
                          f"--routeros VERSION|CHANNEL (or --packages-dir DIR), or an ini "
                          f"file with -c FILE ({path} does not exist)")
    return load_ini(path)


def _port_ini(ini: IniConfig, section: str) -> IniConfig:
    """The main section with the port's keys over it, as an ini of its own."""
    merged = IniConfig()
    merged.path = ini.path
    main = dict(settings(ini))
    own = dict(ini[section])
    if any(own.get(key, "").strip() for key in _CHOOSERS):
        main = {k: v for k, v in main.items() if k not in _CHOICE_KEYS}
    merged.read_dict({next(s for s in SECTIONS if ini.has_section(s)): {**main, **own}})
    return merged


def _setup(options: StationOptions, ini: IniConfig | None) -> PortSetup:
    config = station_config(options, ini)
    chosen = _chooser(options, ini, config)
    defaults = config.defaults
    rules = board_rules(defaults.inventory, defaults.config_template, defaults.unlisted,
                        defaults.device_mode, station_name(config), defaults.config_mode,
                        defaults.script, defaults.inventory_settings,
                        defaults.inventory_token)
    ini_config = getattr(chosen.plugin, "config", None)
    if rules.template is not None and isinstance(ini_config, str) and ini_config:
        raise ConfigError(f"config={ini_config} and --config-template both make the first-boot "
                          "script: choose one")
    if rules.device_mode not in ("off", "auto") and defaults.mode_script is not None:
        raise UsageError("--device-mode with settings and a mode script both make mode.scr: "
                         "choose one (auto gives way to a mode script)")
    _check_device_mode(rules, chosen, config)
    return PortSetup(chosen.config, chosen.plugin, chosen.releases, rules)


def _check_device_mode(rules: BoardRules, chosen: PortSetup, config: StationConfig) -> None:
    """A device mode the station's one release cannot take refuses every board: said at
    start when the release is known here (packages given, or --routeros VERSION) and no
    inventory row can choose another."""
    if rules.device_mode == OFF or _defaults_by_rows(rules):
        return
    if isinstance(chosen.plugin, PackageSetPlugin):
        version, names = chosen.plugin.version, sorted(chosen.plugin.names)
    else:
        version = try_parse_version(config.release.routeros or "")
        names = ["routeros", *config.release.packages]
    if version is None:
        return
    try:
        mode_script_for(rules.device_mode, version, names)
    except PackageError:
        raise UsageError(f"--device-mode {rules.device_mode} needs RouterOS "
                         f"{DEVICE_MODE_SINCE} or newer (a mode script changes "
                         f"/system/device-mode), but every board gets {version}: install "
                         f"{DEVICE_MODE_SINCE} or newer, or drop --device-mode and press the "
                         "boards' buttons") from None


def _defaults_by_rows(rules: BoardRules) -> bool:
    """Rows of the inventory may choose each board's release (or it is asked per board)."""
    table = rules.inventory
    return table is not None and (not isinstance(table, TableInventory)
                                  or "routeros" in table.columns)


def _chooser(options: StationOptions, ini: IniConfig | None, config: StationConfig
             ) -> PortSetup:
    release = config.release
    releases = ReleaseFiles(release, PackageCache(mirror=Mirror(release.mirror or
                                                                DEFAULT_MIRROR),
                                                  wait_for_others=False))
    if options.packages:  # netinstall-cli's way: the files are the arguments
        if release.active:
            raise UsageError("give packages as arguments or --routeros/--packages-dir, "
                             "not both")
        return PortSetup(config, PackageSetPlugin(list(options.packages)), releases)
    if ini is None:
        return PortSetup(config, ReleasePlugin(releases), releases)
    section = settings(ini)
    if release.active and not section.get("plugin", "").strip():
        if section.get("firmware", "").strip():
            raise ConfigError(f"{ini.path}: firmware= and routeros=/packages_dir= are both "
                              "set: choose one way to pick the packages")
        check_keys(ini, custom_plugin=False, station_keys=INI_KEYS)
        script = section.get("config")
        located = locate(script.strip(), os.path.dirname(ini.path)) if script else None
        return PortSetup(config, ReleasePlugin(releases, located), releases)
    return PortSetup(config, load_plugin(ini, INI_KEYS), releases)


def choose_ports(options: StationOptions) -> tuple[StationOptions, str | None]:
    """The flashing ports when -i names none: the ini's ``interface=``, else the one
    Ethernet interface that is up and not the default route's (with what to say about
    it); none or several is a usage error, never a guess (a PC's uplink must not be
    flashed)."""
    if options.interfaces or options.loopback:
        return options, None
    path = config_file(options.config_path or DEFAULTS.config_path)
    if options.config_path and not os.path.isfile(path):
        return options, None  # the ini named is not there: reading it says so first
    if not options.packages and os.path.isfile(path):
        named = settings(load_ini(path)).get("interface", "")
        given = tuple(word for word in named.split() if word)
        if given:
            return replace(options, interfaces=given), f"flashing on {', '.join(given)} " \
                f"(interface= in {path})"
    candidates = flashing_candidates()
    if len(candidates) == 1:
        return replace(options, interfaces=tuple(candidates)), (
            f"no -i given: flashing on {candidates[0]}, the one Ethernet interface that is "
            "up and not the default route's")
    if not candidates:
        raise UsageError("no -i given, and no Ethernet interface is up besides the default "
                         "route's: name the flashing port with -i IFACE")
    raise UsageError(f"no -i given, and {', '.join(candidates)} could each be the flashing "
                     "port: name it with -i IFACE (or interface= in the ini)")
