"""Rules that decide whether packages and scripts may be installed on a board.

``nitools validate`` prints them; ``nitools flash`` runs the same rules before
every offer, so a board is never formatted for files that do not fit it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nitools.routeros.archs import family_for_package, package_fits_board
from nitools.routeros.findings import ERROR, INFO, WARNING, Finding, errors
from nitools.routeros.npk import Package
from nitools.routeros.rsc import ScriptContext, lint_script
from nitools.routeros.version import parse_version, try_parse_version

__all__ = ["ERROR", "INFO", "WARNING", "BoardFacts", "Finding", "ScriptCheck", "TransferLimits",
           "check_install", "errors"]

MODE_SCRIPT_SINCE = parse_version("7.22")
WIRELESS_SPLIT = parse_version("7.13")  # wireless became its own package
_CONFLICTS = (("wireless", "wifi-qcom"), ("wireless", "wifi-qcom-ac"),
              ("wifi-qcom", "wifi-qcom-ac"))


@dataclass(frozen=True)
class BoardFacts:
    """What a board says about itself that decides which packages fit it."""

    arch: str = ""
    min_version: str = ""
    image_version: str | None = None  # the boot image's own version (v7 boards)


@dataclass(frozen=True)
class TransferLimits:
    """What the transfer to the board can carry. The numbers are the netinstall
    protocol's (the station passes them in): RouterOS files know nothing of the wire."""

    frames: int  # frames this install needs, first offer to reboot
    max_frames: int  # the most one install may take (the wire's counters must not wrap)
    max_file_name: int  # characters of a file name the board keeps


@dataclass(frozen=True)
class ScriptCheck:
    """A script to lint along with the packages: the configure script or the mode script."""

    name: str
    data: bytes
    mode_script: bool = False


def check_install(packages: Sequence[tuple[str, Package]], board: BoardFacts | None = None,
                  transfer: TransferLimits | None = None, scripts: Sequence[ScriptCheck] = ()
                  ) -> list[Finding]:
    """``packages`` are (file name, package) in the order they will be sent; without
    ``board`` or ``transfer`` the rules that need them are skipped."""
    if not packages:
        return [Finding(ERROR, "no packages: give the system package (routeros-*.npk) first")]
    first_name, system = packages[0]
    findings = _package_rules(packages)
    if board is not None:
        findings += _board_rules(first_name, system, board)
    if transfer is not None:
        findings += _transfer_rules(packages, transfer)
    context = ScriptContext(frozenset(p.name for _, p in packages), True, system.version)
    for script in scripts:
        if script.mode_script and system.version < MODE_SCRIPT_SINCE:
            findings.append(Finding(ERROR, f"a mode script needs RouterOS {MODE_SCRIPT_SINCE} "
                                    f"or newer, installing {system.version}", script.name))
        script_context = ScriptContext(context.packages, True, system.version, script.mode_script)
        findings += lint_script(script.data, script.name, script_context)
    return findings


def _transfer_rules(packages: Sequence[tuple[str, Package]], transfer: TransferLimits
                    ) -> list[Finding]:
    findings = [Finding(ERROR, f"file name is {len(name)} characters, the board keeps "
                        f"{transfer.max_file_name}: rename the file", name)
                for name, _ in packages if len(name) > transfer.max_file_name]
    if transfer.frames > transfer.max_frames:
        findings.append(Finding(ERROR, f"{transfer.frames} frames exceed the protocol's limit "
                                f"of {transfer.max_frames} per install: send fewer or smaller "
                                "files"))
    return findings


def _package_rules(packages: Sequence[tuple[str, Package]]) -> list[Finding]:
    first_name, system = packages[0]
    findings: list[Finding] = []
    if not system.is_system:
        findings.append(Finding(ERROR, f"the first package is '{system.name}', not the system "
                                "package: list routeros-*.npk first", first_name))
    seen: dict[str, str] = {}
    for name, package in packages:
        if package.name in seen:
            findings.append(Finding(ERROR, f"package '{package.name}' is given twice (also as "
                                    f"{seen[package.name]}): give it once", name))
        seen.setdefault(package.name, name)
        if package.digest_ok is None:
            findings.append(Finding(WARNING, "package has no signature digest: it is not an "
                                    "original MikroTik package", name))
        if package is system:
            continue
        if package.is_system:
            findings.append(Finding(ERROR, "a second system package: give only one", name))
        if package.arch != system.arch:
            findings.append(Finding(ERROR, f"architecture {package.arch} differs from the "
                                    f"system package's {system.arch}", name))
        if package.version != system.version:
            findings.append(Finding(ERROR, f"version {package.version} differs from the system "
                                    f"package's {system.version}: use the same release", name))
        for dependency in package.dependencies:
            if dependency.name == "system" and not (
                    dependency.min_version <= system.version <= dependency.max_version):
                findings.append(Finding(ERROR, f"needs system {dependency.min_version}"
                                        + ("" if dependency.min_version == dependency.max_version
                                           else f" to {dependency.max_version}")
                                        + f", the system package is {system.version}", name))
        if package.channel and system.channel and package.channel != system.channel:
            findings.append(Finding(WARNING, f"channel {package.channel} differs from the "
                                    f"system package's {system.channel}", name))
        if package.build_time != system.build_time:
            findings.append(Finding(INFO, "built at a different time than the system package",
                                    name))
    if family_for_package(system.arch) is None:
        findings.append(Finding(WARNING, f"unknown architecture '{system.arch}'", first_name))
    names = set(seen)
    for a, b in _CONFLICTS:
        if a in names and b in names and (a != "wireless" or system.version >= WIRELESS_SPLIT):
            findings.append(Finding(ERROR, f"packages {a} and {b} conflict: install only one"))
    return findings


def _board_rules(name: str, system: Package, board: BoardFacts) -> list[Finding]:
    findings = []
    fits = package_fits_board(system.arch, board.arch) if board.arch else None
    if fits is False:
        findings.append(Finding(ERROR, f"package is for {system.arch}, the board is "
                                f"{board.arch}: give the {board.arch} package", name))
    elif not board.arch:
        # Never format a board whose packages cannot be checked against it.
        findings.append(Finding(ERROR, "the board announces no architecture: cannot check "
                                "that the packages fit it", name))
    elif fits is None:
        findings.append(Finding(ERROR, f"cannot tell whether a {system.arch} package fits a "
                                f"board announcing architecture '{board.arch}'", name))
    minimum = try_parse_version(board.min_version)
    if board.min_version and minimum is None:
        findings.append(Finding(WARNING, f"cannot read the board's minimum version "
                                f"'{board.min_version}'"))
    if minimum is not None and system.version < minimum:
        findings.append(Finding(ERROR, f"RouterOS {system.version} is older than the board's "
                                f"minimum {minimum}: use {minimum} or newer", name))
    image = try_parse_version(board.image_version)
    if image is not None and minimum is not None and image < minimum:
        findings.append(Finding(ERROR, f"the board's boot image {image} is older than its "
                                f"minimum {minimum}: serve a newer netinstall boot image"))
    return findings


def board_for(arch: str | None, min_version: str | None) -> BoardFacts | None:
    """A stand-in board for ``nitools validate --arch/--min-os``."""
    if not arch and not min_version:
        return None
    if min_version:
        parse_version(min_version)  # a usage error if it is not a version
    return BoardFacts(arch or "", min_version or "")
