"""Everything that happens between a board's announcement and the offer:
ask the plugin, read or download every file, check the packages against the
board. Nothing here may leave a board half-installed: it runs before the OFFR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nitools.errors import PackageError, PluginError
from nitools.netinstall.board import DeviceInfo
from nitools.netinstall.messages import MAX_FILE_NAME
from nitools.netinstall.payload import Resolved, describe, resolve
from nitools.netinstall.plugins import choose_files
from nitools.netinstall.server import InstallFile, frame_count
from nitools.npk import Package, read_package
from nitools.validate import Finding, ScriptCheck, check_install, errors

CONFIG_SCRIPT_NAME = "autorun.scr"  # RouterOS runs it on first boot (§3.9)
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*\.(npk|dpk)$")


@dataclass
class InstallPlan:
    """The files for one board, in wire order, already read and checked."""

    files: list[InstallFile]
    packages: list[Package]
    config_mode: str  # "default" (no script), "empty" (zero-length script), "script"
    sources: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(len(f.data) for f in self.files)


def package_file_name(resolved: Resolved, package: Package) -> str:
    """The source's own base name when the board can take it, else one from the package."""
    if len(resolved.name) <= MAX_FILE_NAME and _PLAIN_NAME.match(resolved.name):
        return resolved.name
    stem = "routeros" if package.name == "system" else package.name
    return f"{stem}-{package.version}-{package.arch or 'noarch'}.npk"[:MAX_FILE_NAME]


def _read_package(source: Any, role: str) -> tuple[InstallFile, Package, str]:
    resolved = resolve(source)
    package = read_package(resolved.data, label=f"{role} {resolved.origin}")
    return InstallFile(package_file_name(resolved, package), resolved.data), package, \
        resolved.origin


def prepare_install(plugin: Any, info: DeviceInfo) -> InstallPlan:
    """Raise a NitoolsError saying why this board must be left alone."""
    choice = choose_files(plugin, info)
    if choice.firmware is None:
        raise PluginError(f"plugin chose no firmware for board {info.mac_text}: board skipped")
    files, packages, sources = [], [], []
    for role, source in [("firmware", choice.firmware),
                         *(("additional package", s) for s in choice.additional)]:
        if source is None:
            raise PluginError(f"plugin returned None as an additional package for board "
                              f"{info.mac_text}")
        file, package, origin = _read_package(source, role)
        files.append(file)
        packages.append(package)
        sources.append(origin)

    scripts = []
    if choice.config is None:
        config_mode = "default"
    else:
        script = resolve(choice.config)
        config_mode = "script" if script.data else "empty"
        files.append(InstallFile(CONFIG_SCRIPT_NAME, script.data))
        sources.append(describe(choice.config))
        scripts.append(ScriptCheck(script.name or CONFIG_SCRIPT_NAME, script.data))

    names = [f.name for f in files]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise PackageError(f"two files would be sent as {sorted(duplicates)[0]}: rename one")
    package_names = names[:len(packages)]  # packages come first, the script last
    findings = check_install(list(zip(package_names, packages, strict=True)), info,
                             frame_count(files), scripts)
    problems = errors(findings)
    if problems:
        raise PackageError(f"board {info.mac_text} left untouched: {problems[0]}")
    return InstallPlan(files, packages, config_mode, sources, findings)
