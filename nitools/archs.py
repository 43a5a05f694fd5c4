"""THE table of RouterBoard CPU families, shared by every subcommand.

One row per boot image. ``extract`` names images by it, ``dnsmasq`` maps DHCP
vendor classes to boot files with it, and ``validate``/``flash`` use it to match
a board's announced architecture to the architecture inside a package.
Sources and confidence: shared docs netinstall-protocol.md §6, npk-format.md §8.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arch:
    name: str  # package download suffix, also the boot file suffix
    vendor_classes: tuple[str, ...]  # DHCP option 60 sent by RouterBOOT
    resource_ids: tuple[int, ...]  # RT_RCDATA ids in netinstall.exe
    npk_arches: tuple[str, ...]  # strings seen in the NPK architecture part
    announced: tuple[str, ...]  # strings a board sends in its DSCV

    @property
    def boot_file(self) -> str:
        return f"netinstall.{self.name}"


ARCHS: tuple[Arch, ...] = (
    Arch("mipsbe", ("Mips_boot",), (131,), ("mipsbe", "mips"), ("mipsbe", "mips")),
    Arch("smips", (), (), ("smips",), ("smips",)),
    Arch("mmips", ("MMipsBoot",), (138,), ("mmips",), ("mmips",)),
    Arch("arm", ("ARM__boot",), (137,), ("arm",), ("arm",)),
    Arch("arm64", ("ARM64__boot",), (139,), ("arm64",), ("arm64",)),
    Arch("ppc", ("Powerboot", "e500_boot", "440__boot"), (129, 130, 135), ("ppc", "powerpc"),
         ("ppc", "powerpc")),
    Arch("tile", ("tile_boot",), (136,), ("tile",), ("tile",)),
    Arch("x86", ("x86_64boot",), (143,), ("x86", "i386", "x86_64"), ("x86", "x86_64")),
)


def arch_for_announcement(announced: str) -> Arch | None:
    """The table row for the architecture string a board announced, if known."""
    wanted = announced.strip().lower()
    return next((arch for arch in ARCHS if wanted in arch.announced), None)


def arch_for_package(npk_arch: str) -> Arch | None:
    """The table row for the architecture string inside an NPK, if known."""
    wanted = npk_arch.strip().lower()
    return next((arch for arch in ARCHS if wanted in arch.npk_arches), None)


def package_fits_board(npk_arch: str, announced: str) -> bool | None:
    """True/False when both strings are known, None when either is not in the table."""
    board, package = arch_for_announcement(announced), arch_for_package(npk_arch)
    if board is None or package is None:
        return None
    return board is package
