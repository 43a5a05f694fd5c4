"""Everything that happens between a board's announcement and the offer: ask the
plugin, read or download every file, check the packages and scripts against the
board. Nothing here may leave a board half-installed: it all runs before the OFFR.

Configuration outcomes (the choices of MikroTik's own tool, docs/protocol.md §3.9):

* ``default``: no script is sent; the board applies RouterOS's default configuration;
* ``empty``: a zero-length ``autorun.scr``; the board starts with no configuration;
* ``script``: the user's first-boot script as ``autorun.scr``;
* ``keep``: ``keep`` in the offer; the board keeps its old configuration.

Independently: a licence key from a MikroTik ``.key`` file (offer line 2), a mode
script (``mode.scr``, RouterOS 7.22+), a branding package (``.dpk``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import replace
from typing import Any

from nitools.errors import NitoolsError, PackageError, PluginError, UsageError
from nitools.fetch.package_cache import DownloadUnderWay
from nitools.fetch.releases import ReleaseFiles
from nitools.netinstall.events import FailureCause
from nitools.netinstall.frame import format_mac
from nitools.netinstall.protocol import (
    CONFIG_SCRIPT_NAME,
    COUNTER_LIMIT,
    MAX_FILE_NAME,
    MODE_SCRIPT_NAME,
    frame_count,
)
from nitools.netinstall.server import InstallFile
from nitools.routeros.device_mode import OFF, mode_script_for
from nitools.routeros.findings import WARNING, Finding
from nitools.routeros.npk import Package, read_package
from nitools.routeros.validate import (
    BoardFacts,
    ScriptCheck,
    TransferLimits,
    check_install,
    errors,
)
from nitools.station.engine.contract import (
    ConfigMode,
    InstallPlan,
    NotYet,
    PrepareRequest,
    Refusal,
)
from nitools.station.plan.first_boot import RenderError, board_script
from nitools.station.plan.ini import InstallDefaults
from nitools.station.plan.inventory import InventoryRow, InventoryUnavailable, NotListed
from nitools.station.plan.payload import PayloadCache, Resolved, Source, describe
from nitools.station.plan.plugins import (
    DefaultPlugin,
    DeviceInfo,
    FileChoice,
    PackageSetPlugin,
    Plugin,
    choose_files,
    optional_choice,
)
from nitools.station.plan.rules import BoardRules

_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*\.(npk|dpk)\Z")
_KEY_BYTES = 64
_KEY_TEXT = re.compile(r"[A-Za-z0-9+/]{80,}={0,2}\Z")  # a key given as text, not a file


def parse_key(data: bytes, origin: str = "key") -> str:
    """A MikroTik software key (.key file or its base64 text) as the offer carries it."""
    text = data.decode("ascii", "replace")
    body = "".join(line.strip() for line in text.splitlines()
                   if line.strip() and not line.strip().startswith("-"))
    try:
        decoded = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != _KEY_BYTES:
        raise UsageError(f"{origin} is not a MikroTik software key (expected base64 of "
                         f"{_KEY_BYTES} bytes between BEGIN/END MIKROTIK SOFTWARE KEY lines)")
    return body


def read_key(source: Source, cache: PayloadCache) -> str:
    """A licence key from a .key file, a URL, a file object, or the key's own text."""
    as_text = isinstance(source, str) and _KEY_TEXT.match(source)
    data = source.encode() if as_text else cache.resolve(source).data
    return parse_key(data, describe(source))


def package_file_name(resolved: Resolved, package: Package) -> str:
    """The source's own base name when the board can take it, else one from the package."""
    if len(resolved.name) <= MAX_FILE_NAME and _PLAIN_NAME.match(resolved.name):
        return resolved.name
    stem = "routeros" if package.name == "system" else package.name
    return f"{stem}-{package.version}-{package.arch or 'noarch'}.npk"[:MAX_FILE_NAME]


class _Builder:
    """Collects files in wire order with their digests and sources."""

    def __init__(self, cache: PayloadCache) -> None:
        self.cache = cache
        self.files: list[InstallFile] = []
        self.packages: list[Package] = []
        self.digests: list[str] = []
        self.sources: list[str] = []

    def add(self, name: str, resolved: Resolved, origin: str) -> None:
        self.files.append(InstallFile(name, resolved.data))
        self.digests.append(resolved.sha256)
        self.sources.append(origin)

    def package(self, source: Source, role: str) -> None:
        resolved = self.cache.resolve(source)
        label = f"{role} {resolved.origin}"
        package = self.cache.derived(resolved, "npk", lambda data: read_package(data, label))
        self.packages.append(package)
        self.add(package_file_name(resolved, package), resolved, resolved.origin)

    def branding(self, source: Source) -> None:
        resolved = self.cache.resolve(source)
        name = resolved.name if resolved.name.endswith(".dpk") and \
            _PLAIN_NAME.match(resolved.name) else "branding.dpk"
        if not resolved.data:
            raise PackageError(f"branding package {resolved.origin} is empty")
        self.add(name, resolved, resolved.origin)


def prepare_install(plugin: Plugin, board: PrepareRequest,
                    defaults: InstallDefaults | None = None, cache: PayloadCache | None = None,
                    releases: ReleaseFiles | None = None, rules: BoardRules | None = None
                    ) -> InstallPlan:
    """Raise a NitoolsError saying why this board must be left alone. ``releases`` serves
    plugins that answer with a version and inventory rows that name one; ``rules``: the
    inventory, template and device-mode."""
    defaults = defaults or InstallDefaults()
    cache = cache or PayloadCache(url_ttl=0)
    rules = rules or BoardRules()
    announced = board.announcement
    mac_text = format_mac(board.mac)
    info = DeviceInfo.from_announcement(board.mac, announced)  # pyNetinstall's, for plugins
    row = rules.row_for(board.mac, announced)
    choice = _row_packages(choose_files(plugin, info, releases), row, plugin, board, releases)
    plugin_config = is_custom_plugin(plugin) and choice.config is not None  # plugins win
    if row is not None and row.config_mode is not None and not plugin_config:
        defaults = replace(defaults, config_mode=row.config_mode)
    choice = _apply_defaults(choice, defaults)  # -s and --config-mode, as they always did
    if choice.firmware is None:
        raise PluginError(f"plugin chose no firmware for board {mac_text}: board skipped")
    build = _Builder(cache)
    build.package(choice.firmware, "firmware")
    for source in choice.additional:
        if source is None:
            raise PluginError(f"plugin returned None as an additional package for board "
                              f"{mac_text}")
        build.package(source, "additional package")
    version = build.packages[0].version

    branding = optional_choice(plugin, "get_branding", info, defaults.branding)
    if branding is not None:
        build.branding(branding)

    keep = bool(optional_choice(plugin, "keep_config", info,
                                defaults.config_mode is ConfigMode.KEEP))
    template = None if plugin_config or keep or defaults.config_mode in (ConfigMode.DEFAULT,
                                                                         ConfigMode.EMPTY) \
        else rules.template_for(row)
    scripts = []
    if keep:
        config_mode = ConfigMode.KEEP
    elif template is not None:
        text = board_script(template, row.template_values() if row is not None else {},
                            rules.facts(board.mac, announced, str(version), board.port))
        script = Resolved("autorun.rsc", text.encode("utf-8"),
                          f"template {template.name}")
        config_mode = ConfigMode.SCRIPT
        build.add(CONFIG_SCRIPT_NAME, script, script.origin)
        # "t.rsc.j2 (for 02:..:01):3": the line number stays apart from the MAC
        scripts.append(ScriptCheck(f"{template.name} (for {mac_text})", script.data))
    elif choice.config is None:
        config_mode = ConfigMode.DEFAULT
    else:
        script = cache.resolve(choice.config)
        config_mode = ConfigMode.SCRIPT if script.data else ConfigMode.EMPTY
        build.add(CONFIG_SCRIPT_NAME, script, describe(choice.config))
        scripts.append(ScriptCheck(script.name or CONFIG_SCRIPT_NAME, script.data))

    row_mode = row.path("mode_script") if row is not None else None
    mode_source = optional_choice(plugin, ("get_mode_script", "get_mode"), info,
                                  row_mode or defaults.mode_script)
    generated = mode_source is None and rules.device_mode != OFF
    if generated:
        mode_source = mode_script_for(rules.device_mode, version,
                                      [p.name for p in build.packages])
    if mode_source is not None:
        mode = cache.resolve(mode_source)
        origin = "--device-mode" if generated else describe(mode_source)
        build.add(MODE_SCRIPT_NAME, mode, origin)
        scripts.append(ScriptCheck(mode.name or MODE_SCRIPT_NAME, mode.data, mode_script=True))

    key_source = optional_choice(plugin, "get_key", info, defaults.key_file)
    key = read_key(key_source, cache) if key_source is not None else None

    names = [f.name for f in build.files]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise PackageError(f"two files would be sent as {sorted(duplicates)[0]}: rename one")
    package_names = names[:len(build.packages)]  # packages come first, then the rest
    facts = BoardFacts(announced.arch, announced.min_version, announced.image_version)
    findings = check_install(list(zip(package_names, build.packages, strict=True)), facts,
                             transfer_limits([len(f.data) for f in build.files]), scripts)
    problems = errors(findings)
    if problems:
        raise PackageError(f"board {mac_text} left untouched: {problems[0]}")
    station_version = releases.version if releases is not None else None
    if row is not None and station_version is not None and version < station_version:
        findings.append(Finding(WARNING, f"{row.where} installs RouterOS {version}, older "
                                f"than the station's {station_version}"))
    return InstallPlan(build.files, build.packages, config_mode, key, keep, build.sources,
                       findings, build.digests, row.key if row is not None else None,
                       template.name if template is not None else None,
                       hold=row.hold if row is not None else None,
                       after_install=row.after_install if row is not None else None)


def is_custom_plugin(plugin: Any) -> bool:
    """A user's own plugin (``plugin=module:Class``), not one nitools makes itself."""
    from nitools.fetch.releases import ReleasePlugin

    return not isinstance(plugin, (DefaultPlugin, PackageSetPlugin, ReleasePlugin))


def _row_packages(choice: FileChoice, row: InventoryRow | None, plugin: Plugin,
                  board: PrepareRequest, releases: ReleaseFiles | None) -> FileChoice:
    """The packages an inventory row names (``routeros=``, ``packages=``) for this board."""
    if row is None or (row.routeros is None and row.packages is None):
        return choice
    if is_custom_plugin(plugin):
        raise PluginError(f"{row.where} names routeros/packages, but the plugin picks this "
                          "board's packages: drop them from the inventory or the plugin")
    if releases is None:
        raise PluginError(f"{row.where} names routeros/packages, but this station has no "
                          "package source")
    if row.routeros is None and releases.version is None and releases.folder is None:
        raise PluginError(f"{row.where} names packages but no routeros version: add a "
                          "routeros column, or give --routeros")
    announced = board.announcement
    files = releases.files(announced.arch, announced.min_version, format_mac(board.mac),
                           routeros=row.routeros, packages=row.packages)
    return replace(choice, firmware=files[0], additional=tuple(files[1:]))


def transfer_limits(sizes: list[int]) -> TransferLimits:
    """The netinstall protocol's limits for files of these sizes, for the RouterOS rules."""
    return TransferLimits(frame_count(sizes), COUNTER_LIMIT, MAX_FILE_NAME)


def _apply_defaults(choice: FileChoice, defaults: InstallDefaults) -> FileChoice:
    mode = defaults.config_mode
    if mode is None:
        return choice if defaults.script is None else replace(choice, config=defaults.script)
    if mode in (ConfigMode.DEFAULT, ConfigMode.KEEP):
        return replace(choice, config=None)
    if mode is ConfigMode.EMPTY:
        return replace(choice, config=b"")
    return replace(choice, config=defaults.script if defaults.script is not None
                   else choice.config)



def prepare_or_refuse(plugin: Plugin, board: PrepareRequest, defaults: InstallDefaults,
                      cache: PayloadCache, releases: ReleaseFiles | None = None,
                      rules: BoardRules | None = None) -> InstallPlan | Refusal | NotYet:
    """``prepare_install`` for the station's worker threads: never raises. A board that is
    refused leaves no inventory answer behind (only offered boards' answers are kept)."""
    prepared = _prepare_or_refuse(plugin, board, defaults, cache, releases, rules)
    if isinstance(prepared, Refusal) and rules is not None and rules.inventory is not None:
        rules.inventory.forget(board.mac, board.announcement.software_id)
    return prepared


def _prepare_or_refuse(plugin: Plugin, board: PrepareRequest, defaults: InstallDefaults,
                       cache: PayloadCache, releases: ReleaseFiles | None,
                       rules: BoardRules | None) -> InstallPlan | Refusal | NotYet:
    try:
        return prepare_install(plugin, board, defaults, cache, releases, rules)
    except DownloadUnderWay as exc:
        return NotYet(str(exc))
    except NotListed as exc:
        return Refusal(str(exc), FailureCause.NOT_IN_INVENTORY)
    except InventoryUnavailable as exc:
        return Refusal(str(exc), FailureCause.INVENTORY_UNAVAILABLE)
    except RenderError as exc:
        return Refusal(f"board {format_mac(board.mac)} left untouched: its first-boot script "
                       f"cannot be made: {exc}")
    except NitoolsError as exc:
        return Refusal(str(exc))
    except SystemExit as exc:  # a plugin must not end the station either
        return Refusal(f"preparing files failed: the plugin called sys.exit({exc.code!r})")
    except (KeyboardInterrupt, GeneratorExit) as exc:
        # Raised by the plugin itself: a real Ctrl-C reaches the main thread's handler,
        # which asks the loop to stop, and never a preparation.
        return Refusal(f"preparing files failed: the plugin raised {type(exc).__name__}")
    except Exception as exc:  # a plugin bug must not stop the station
        return Refusal(f"preparing files failed: {type(exc).__name__}: {exc}")


def check_station_inputs(plugin: Any, defaults: InstallDefaults, cache: PayloadCache) -> None:
    """Read and check every station-wide file once, at start: a missing or broken file is
    one clear error now, not a refusal of every board later."""
    from nitools.fetch.releases import ReleasePlugin
    from nitools.routeros.rsc import ScriptContext, lint_script
    from nitools.station.plan.plugins import DefaultPlugin

    scripts = []
    if isinstance(plugin, DefaultPlugin):
        sources = [("firmware", plugin.firmware)]
        sources += [("additional package", item) for item in plugin.additional]
        for role, source in sources:
            resolved = cache.resolve(plugin.locate(source))
            cache.derived(resolved, "npk",
                          lambda data, r=resolved, w=role: read_package(data, f"{w} {r.origin}"))
        if plugin.config:
            scripts.append(("config", plugin.locate(plugin.config), False))
    elif isinstance(plugin, ReleasePlugin) and plugin.config:
        scripts.append(("config", plugin.config, False))
    if defaults.script is not None:
        scripts.append(("--script", defaults.script, False))
    if defaults.mode_script is not None:
        scripts.append(("mode script", defaults.mode_script, True))
    for role, source, mode in scripts:
        resolved = cache.resolve(source)
        problems = errors(lint_script(resolved.data, resolved.name or role,
                                      ScriptContext(mode_script=mode)))
        if problems:
            raise UsageError(f"{role} {describe(source)}: {problems[0]}")
    if defaults.key_file is not None:
        read_key(defaults.key_file, cache)
    if defaults.branding is not None and not cache.resolve(defaults.branding).data:
        raise PackageError(f"branding package {describe(defaults.branding)} is empty")
