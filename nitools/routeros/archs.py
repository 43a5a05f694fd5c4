"""THE table of RouterBoard CPU families and boot images, shared by every subcommand.

``extract`` names boot images by it, ``dnsmasq`` maps DHCP vendor classes to
boot files with it, and ``validate``/``flash`` use it to match a board's
announced architecture to the architecture inside a package.
What each column means: docs/protocol.md §6 and docs/formats.md §1.5, §2.

Boot images and package architectures are two different lists: three PowerPC
boot images serve one ``ppc`` package family, and ``smips`` boards boot the
``mipsbe`` image but need ``smips`` packages.
"""

from __future__ import annotations

from dataclasses import dataclass

ELF_LITTLE, ELF_BIG = "little", "big"


@dataclass(frozen=True)
class Family:
    """A RouterOS package architecture."""

    name: str  # the download suffix: routeros-<version>-<name>.npk
    npk_arches: tuple[str, ...]  # strings seen in the NPK architecture part
    announced: tuple[str, ...]  # strings a board sends in its DSCV


@dataclass(frozen=True)
class BootImage:
    """One netinstall boot image, as stored in netinstall.exe and served over TFTP."""

    name: str  # served as netinstall.<name>
    family: str  # the package family the image installs
    vendor_classes: tuple[str, ...]  # DHCP option 60 values that want this image
    resource_id: int  # RT_RCDATA id in netinstall.exe
    elf: tuple[int, str, int] | None  # (ELF class bits, endianness, e_machine); None: MZ
    kernel_variant: str | None = None  # PPC: the kernel release suffix ("" for e300)

    @property
    def boot_file(self) -> str:
        return f"netinstall.{self.name}"


FAMILIES: tuple[Family, ...] = (
    Family("mipsbe", ("mipsbe", "mips"), ("mipsbe", "mips")),
    Family("smips", ("smips",), ("smips",)),
    Family("mmips", ("mmips",), ("mmips",)),
    Family("arm", ("arm",), ("arm",)),
    Family("arm64", ("arm64",), ("arm64",)),
    Family("ppc", ("ppc", "powerpc"), ("ppc", "powerpc")),
    Family("tile", ("tile",), ("tile",)),
    Family("x86", ("x86", "i386", "x86_64"), ("x86", "x86_64")),
)

EM_MIPS, EM_PPC, EM_ARM, EM_AARCH64, EM_TILEGX = 8, 20, 40, 183, 191

BOOT_IMAGES: tuple[BootImage, ...] = (
    BootImage("ppc-e300", "ppc", ("Powerboot",), 129, (32, ELF_BIG, EM_PPC), ""),
    BootImage("ppc-e500", "ppc", ("e500_boot", "e500sboot"), 130, (32, ELF_BIG, EM_PPC), "-e500"),
    BootImage("mipsbe", "mipsbe", ("Mips_boot",), 131, (32, ELF_BIG, EM_MIPS)),
    BootImage("ppc-440", "ppc", ("440__boot",), 135, (32, ELF_BIG, EM_PPC), "-440"),
    BootImage("tile", "tile", ("tile_boot",), 136, (64, ELF_LITTLE, EM_TILEGX)),
    BootImage("arm", "arm", ("ARM__boot",), 137, (32, ELF_LITTLE, EM_ARM)),
    BootImage("mmips", "mmips", ("MMipsBoot",), 138, (32, ELF_LITTLE, EM_MIPS)),
    BootImage("arm64", "arm64", ("ARM64__boot",), 139, (64, ELF_LITTLE, EM_AARCH64)),
    # UEFI x86-64 PXE clients only (option 93 arch 7); legacy PXE needs a chain.
    BootImage("x86", "x86", ("PXEClient",), 143, None),
)


def boot_image_by_id(resource_id: int) -> BootImage | None:
    return next((image for image in BOOT_IMAGES if image.resource_id == resource_id), None)


def boot_image_by_name(name: str) -> BootImage | None:
    return next((image for image in BOOT_IMAGES if image.name == name), None)


def family_for_announcement(announced: str) -> Family | None:
    """The package family for the architecture string a board announced, if known."""
    wanted = announced.strip().lower()
    return next((family for family in FAMILIES if wanted in family.announced), None)


def family_for_package(npk_arch: str) -> Family | None:
    """The package family for the architecture string inside an NPK, if known."""
    wanted = npk_arch.strip().lower()
    return next((family for family in FAMILIES if wanted in family.npk_arches), None)


def package_fits_board(npk_arch: str, announced: str) -> bool | None:
    """True/False when both strings are known, None when either is not in the table."""
    board, package = family_for_announcement(announced), family_for_package(npk_arch)
    if board is None or package is None:
        return None
    return board is package
