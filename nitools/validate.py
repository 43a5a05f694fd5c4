"""Rules that decide whether a set of packages may be installed on a board.

``flash`` runs them before every offer: a board is never formatted for a
package that does not fit it. (``nitools validate`` will share these rules.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nitools.archs import package_fits_board
from nitools.netinstall.board import DeviceInfo
from nitools.netinstall.frame import COUNTER_LIMIT
from nitools.npk import Package
from nitools.version import try_parse_version

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Finding:
    level: str
    message: str
    subject: str = ""

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}" if self.subject else self.message


def check_install(packages: Sequence[tuple[str, Package]], board: DeviceInfo | None = None,
                  frames: int | None = None) -> list[Finding]:
    """``packages`` are (file name, package) in the order they will be sent."""
    findings: list[Finding] = []
    if not packages:
        return [Finding(ERROR, "no packages: give the system package (routeros-*.npk)")]
    first_name, system = packages[0]
    if not system.is_system:
        findings.append(Finding(ERROR, f"the first package is '{system.name}', not the system "
                                "package: list routeros-*.npk first", first_name))

    seen: set[str] = set()
    for name, package in packages:
        if package.name in seen:
            findings.append(Finding(ERROR, f"package '{package.name}' is given twice", name))
        seen.add(package.name)
        if package.arch != system.arch:
            findings.append(Finding(ERROR, f"architecture {package.arch} differs from the "
                                    f"system package's {system.arch}", name))
        if package is not system and package.version != system.version:
            findings.append(Finding(ERROR, f"version {package.version} differs from the system "
                                    f"package's {system.version}: use the same release", name))

    if board is not None:
        findings += _board_rules(first_name, system, board)
    if frames is not None and frames > COUNTER_LIMIT:
        findings.append(Finding(ERROR, f"{frames} frames exceed the protocol's limit of "
                                f"{COUNTER_LIMIT} per install: send fewer or smaller files"))
    return findings


def _board_rules(name: str, system: Package, board: DeviceInfo) -> list[Finding]:
    findings = []
    fits = package_fits_board(system.arch, board.arch) if board.arch else None
    if fits is False:
        findings.append(Finding(ERROR, f"package is for {system.arch}, the board is "
                                f"{board.arch}: give the {board.arch} package", name))
    elif fits is None and board.arch and system.arch != board.arch:
        findings.append(Finding(WARNING, f"cannot tell whether a {system.arch} package fits a "
                                f"board announcing '{board.arch}'", name))
    minimum = try_parse_version(board.min_os)
    if minimum is not None and system.version < minimum:
        findings.append(Finding(ERROR, f"RouterOS {system.version} is older than the board's "
                                f"minimum {minimum}: use {minimum} or newer", name))
    image = try_parse_version(board.image_version)
    if image is not None and minimum is not None and image < minimum:
        findings.append(Finding(ERROR, f"the board's boot image {image} is older than its "
                                f"minimum {minimum}: serve a newer netinstall boot image"))
    return findings


def errors(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == ERROR]
