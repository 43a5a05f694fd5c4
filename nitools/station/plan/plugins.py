"""Choosing files per board: the ini file, the default plugin, custom plugins.

Drop-in compatible with pyNetinstall: the ini section ``[pynetinstall]`` (or
``[nitools]``) with ``firmware=``, optional ``config=``, ``additional_packages=``
(one per indented line) and ``plugin=module:Class``. A plugin has an optional
``__init__(config)`` and ``get_files(info)`` returning
``(firmware, *additional_packages, config)``.
"""

from __future__ import annotations

import configparser
import difflib
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from nitools.errors import ConfigError, NitoolsError, PackageError, PluginError
from nitools.fetch.releases import ReleaseFiles
from nitools.netinstall.frame import format_mac
from nitools.netinstall.messages import Announcement
from nitools.station.plan.ini import settings
from nitools.station.plan.payload import Source, is_url

log = logging.getLogger("nitools.plugins")
# pyNetinstall's keys of the ini section; the station-wide ones are the settings' own
# (StationOptions declares which the ini may set).
PLUGIN_KEYS = ("firmware", "config", "additional_packages", "plugin")
# pyNetinstall keys nitools reads and does not need: taken, with a word of why
PYNETINSTALL_UNNEEDED = {
    "bind_ip": "nitools binds to the interface itself (-i), so no address is needed",
}
# pyNetinstall's bundled plugin names map to our default plugin.
_DEFAULT_PLUGIN_ALIASES = {"pynetinstall.plugins.simple:Plugin", "nitools:DefaultPlugin"}


class Plugin(Protocol):
    """pyNetinstall's plugin: ``get_files(info)`` returns ``(firmware, *additional, config)``
    (or a release mapping, see ``choose_files``). Optional methods, each given ``info``:
    ``get_key``, ``get_mode_script`` (or ``get_mode``), ``keep_config``, ``get_branding``."""

    def get_files(self, info: DeviceInfo) -> Any: ...


@dataclass(frozen=True)
class DeviceInfo:
    """What ``get_files(info)`` is given: pyNetinstall's names (``lic_id``, ``lic_key``,
    ``min_os``), kept here at the plugin boundary only; attributes or ``info["name"]``."""

    mac: bytes
    model: str
    arch: str
    min_os: str
    lic_id: str
    lic_key: str
    image_version: str | None = None  # the boot image's own version (v7 boards only)

    @classmethod
    def from_announcement(cls, mac: bytes, announcement: Announcement) -> DeviceInfo:
        return cls(mac, announcement.model, announcement.arch, announcement.min_version,
                   announcement.software_id, announcement.key, announcement.image_version)

    @property
    def mac_text(self) -> str:
        return format_mac(self.mac)

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)

    def __repr__(self) -> str:  # never the licence key
        return (f"DeviceInfo({self.mac_text}, {self.model!r}, {self.arch!r}, "
                f"min_os={self.min_os!r}, lic_id={self.lic_id!r})")


def locate(value: str, base_dir: str) -> str:
    """A file named in an ini: as the working directory sees it (pyNetinstall's way),
    else next to the ini file (in ``base_dir``)."""
    if is_url(value) or os.path.isabs(value) or os.path.exists(value) or not base_dir:
        return value
    beside = os.path.join(base_dir, value)
    return beside if os.path.exists(beside) else value


class DefaultPlugin:
    """Serves the same files to every board, as named in the ini section."""

    def __init__(self, config: configparser.ConfigParser) -> None:
        section = settings(config)
        self.base_dir = os.path.dirname(getattr(config, "path", ""))
        self.firmware = section.get("firmware", "").strip()
        if not self.firmware:
            raise ConfigError(f"[{section.name}] has no firmware= line: name the system package")
        self.additional = [line.strip() for line in
                           section.get("additional_packages", "").splitlines() if line.strip()]
        config_value = section.get("config")
        self.config = config_value.strip() if config_value is not None else None

    def locate(self, value: str) -> str:
        return locate(value, self.base_dir)

    def get_files(self, info: DeviceInfo) -> tuple[Any, ...]:
        config = self.locate(self.config) if self.config else None
        return (self.locate(self.firmware), *map(self.locate, self.additional), config)


TYPO_CUTOFF = 0.8  # conifg= for config= is 0.83; folder= for hold= is 0.6


def check_keys(config: configparser.ConfigParser, custom_plugin: bool,
               station_keys: Collection[str]) -> None:
    """A misspelled key must not silently mean "default configuration": an error that
    names the closest known key (a warning when a custom plugin may read its own keys)."""
    section = settings(config)
    known = (*PLUGIN_KEYS, *station_keys)
    for key in section:
        if key in known:
            continue
        if key in PYNETINSTALL_UNNEEDED:
            log.warning("[%s] %s= is pyNetinstall's and not needed here: %s", section.name,
                        key, PYNETINSTALL_UNNEEDED[key])
            continue
        # A custom plugin reads keys of its own (pyNetinstall's folder=): only a near miss
        # of a nitools key (a typo) is an error there, not any word that looks alike.
        close = difflib.get_close_matches(key, known, n=1,
                                          cutoff=TYPO_CUTOFF if custom_plugin else 0.6)
        hint = f": did you mean {close[0]}=?" if close else \
            f": known keys are {', '.join(sorted(known))}"
        if custom_plugin and not close:
            log.warning("[%s] %s= is not a nitools key; left to the plugin", section.name, key)
            continue
        source = getattr(config, "path", "") or "the config file"
        raise ConfigError(f"{source}: [{section.name}] has an unknown key {key}={hint}")


def load_plugin(config: configparser.ConfigParser, station_keys: Collection[str]) -> Plugin:
    """The ini's plugin (``plugin=module:Class``), or the default plugin of its files;
    ``station_keys``: the station-wide keys the ini may also carry."""
    spec = settings(config).get("plugin", "").strip()
    custom = bool(spec) and spec not in _DEFAULT_PLUGIN_ALIASES
    check_keys(config, custom, station_keys)
    if not custom:
        return DefaultPlugin(config)
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ConfigError(f"plugin={spec} is not of the form module:Class")
    # pyNetinstall finds plugins in the working directory; next to the ini file works too.
    for folder in (os.getcwd(), os.path.dirname(getattr(config, "path", "") or "")):
        if folder and folder not in sys.path:
            sys.path.append(folder)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise PluginError(f"cannot import plugin module '{module_name}': {exc} "
                          "(is it on PYTHONPATH or in the working directory?)") from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        raise PluginError(f"plugin module '{module_name}' has no class '{class_name}'")
    try:
        takes_config = len(inspect.signature(cls).parameters) >= 1
    except (TypeError, ValueError):
        takes_config = True
    try:
        plugin = cls(config) if takes_config else cls()
    except Exception as exc:
        raise PluginError(f"plugin {spec} failed to start: {type(exc).__name__}: {exc}") from exc
    if not callable(getattr(plugin, "get_files", None)):
        raise PluginError(f"plugin {spec} has no get_files(info) method")
    return plugin


@dataclass(frozen=True)
class FileChoice:
    firmware: Source | None
    additional: tuple[Source | None, ...]
    config: Source | None  # None: the board applies RouterOS's default configuration


def optional_choice(plugin: Plugin, names: str | tuple[str, ...], info: DeviceInfo,
                    default: Any) -> Any:
    """Ask an optional plugin method (``get_key``, ``get_mode_script``, ``keep_config``,
    ``get_branding``) for this board; plugins without it get the station default.
    A method that returns None also means "use the default"."""
    for name in (names,) if isinstance(names, str) else names:
        method = getattr(plugin, name, None)
        if not callable(method):
            continue
        try:
            value = method(info)
        except Exception as exc:
            raise PluginError(f"plugin {name}() failed for board {info.mac_text}: "
                              f"{type(exc).__name__}: {exc}") from exc
        return default if value is None else value
    return default


def choose_files(plugin: Plugin, info: DeviceInfo, releases: ReleaseFiles | None = None
                 ) -> FileChoice:
    """Call ``get_files`` and read its answer the way pyNetinstall does; a mapping
    ``{"routeros": VERSION|CHANNEL, "packages": [NAME, ...], "config": SOURCE}`` asks for
    a release instead of files (``releases`` supplies them, see nitools.fetch.releases)."""
    try:
        result = plugin.get_files(info)
    except NitoolsError:
        raise  # nitools' own choosers say what is wrong themselves
    except Exception as exc:
        raise PluginError(f"plugin failed for board {info.mac_text}: "
                          f"{type(exc).__name__}: {exc}") from exc
    if isinstance(result, Mapping):
        return _release_answer(result, info, releases)
    if not isinstance(result, (tuple, list)):
        return FileChoice(result, (), None)
    if not result:
        raise PluginError(f"plugin returned nothing for board {info.mac_text}")
    if len(result) == 1:
        return FileChoice(result[0], (), None)
    return FileChoice(result[0], tuple(result[1:-1]), result[-1])


_RELEASE_KEYS = ("routeros", "packages", "config")


def _release_answer(answer: Mapping[str, Any], info: DeviceInfo,
                    releases: ReleaseFiles | None) -> FileChoice:
    unknown = sorted(set(answer) - set(_RELEASE_KEYS))
    if unknown:
        raise PluginError(f"plugin answered with unknown key {unknown[0]!r} for board "
                          f"{info.mac_text}: use {', '.join(_RELEASE_KEYS)}")
    version, packages = answer.get("routeros"), answer.get("packages", ())
    if not isinstance(version, str) or not version.strip():
        raise PluginError(f"plugin answered without a \"routeros\" version for board "
                          f"{info.mac_text}")
    if isinstance(packages, str) or not all(isinstance(p, str) for p in packages):
        raise PluginError(f"plugin's \"packages\" for board {info.mac_text} must be a "
                          "list of package names")
    if releases is None:
        raise PluginError("plugin answered with a RouterOS version, but this station has "
                          "no package source")
    files = releases.files(info.arch, info.min_os, info.mac_text, routeros=version,
                           packages=list(packages))
    return FileChoice(files[0], tuple(files[1:]), answer.get("config"))


class PackageSetPlugin:
    """Packages given on the command line, as netinstall-cli takes them: each board gets
    the system package and extras made for the architecture it announces, chosen by
    what each file's NPK header says (never by its name)."""

    def __init__(self, paths: list[str]) -> None:
        from nitools.routeros.archs import family_for_package
        from nitools.routeros.npk import read_package
        from nitools.routeros.version import parse_version

        self.sets: dict[str, list[tuple[str, bool]]] = {}  # family -> (path, is system)
        self.names: set[str] = set()  # every package's name (container, wifi-qcom, ...)
        versions: dict[str, list[str]] = {}  # version -> the files of that version
        for path in paths:
            package = read_package(path, path)
            self.names.add(package.name)
            versions.setdefault(str(package.version), []).append(os.path.basename(path))
            family = family_for_package(package.arch)
            if family is None:
                raise ConfigError(f"{path}: architecture '{package.arch}' is unknown: give "
                                  "packages for RouterBoard architectures")
            self.sets.setdefault(family.name, []).append((path, package.is_system))
        for family, members in self.sets.items():
            systems = [path for path, is_system in members if is_system]
            if len(systems) != 1:
                raise ConfigError(f"give exactly one system package (routeros-*.npk) for "
                                  f"{family}, not {len(systems)}")
            members.sort(key=lambda member: not member[1])  # the system package first
        if len(versions) > 1:  # every board would be refused: said now, once
            given = "; ".join(f"{version}: {', '.join(files)}"
                              for version, files in sorted(versions.items()))
            raise ConfigError(f"the packages given are of {len(versions)} RouterOS versions "
                              f"({given}): give the packages of one version")
        self.version = parse_version(next(iter(versions))) if versions else None

    def get_files(self, info: DeviceInfo) -> tuple[Any, ...]:
        from nitools.routeros.archs import family_for_announcement

        family = family_for_announcement(info.arch)
        members = self.sets.get(family.name) if family is not None else None
        if not members:
            raise PackageError(f"no package given for architecture '{info.arch}' (given: "
                               f"{', '.join(sorted(self.sets))}): add its packages to the "
                               "command line")
        return (*(path for path, _ in members), None)
