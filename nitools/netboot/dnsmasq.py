"""``nitools dnsmasq``: a correct netboot config for dnsmasq (or RouterOS), checked first.

The shape is explained line by line in docs/dnsmasq.md: one ``dhcp-vendorclass`` +
``dhcp-boot=tag:`` pair per boot image (``dhcp-boot=vendor:`` is wrong and
``dnsmasq --test`` does not notice), BOOTP with dynamic addresses, silence
towards non-RouterBOOT clients, TFTP without block-size negotiation.

Every value that reaches the config is parsed into a typed value or checked
against a strict pattern first, so no input can add a line to the config.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import json
import logging
import os
import re
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from nitools import __version__
from nitools.errors import NitoolsError, UsageError
from nitools.netboot.udp_ports import ports_in_use
from nitools.routeros.archs import BOOT_IMAGES, BootImage, boot_image_by_name

log = logging.getLogger("nitools.dnsmasq")

# \Z, not $: "$" also matches before a trailing newline, which must never pass.
_INTERFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}\Z")
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._/+@=-]*\Z")
_LEASE_TIME = re.compile(r"(infinite|[1-9][0-9]{0,6}[smhdw]?)\Z")
_SIOCGIFADDR, _SIOCGIFNETMASK = 0x8915, 0x891B
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")
ROUTEROS_BLOCK = 28  # one /28 of addresses per boot image in the RouterOS rendering


class DnsmasqError(NitoolsError):
    pass


@dataclass(frozen=True)
class InterfaceAddress:
    name: str
    address: ipaddress.IPv4Address
    network: ipaddress.IPv4Network


def interface_address(name: str) -> InterfaceAddress:
    """The interface's IPv4 address and subnet, read with the kernel's interface ioctls."""
    check_interface_name(name)
    packed = struct.pack("256s", name.encode())
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            address = socket.inet_ntoa(fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, packed)[20:24])
            netmask = socket.inet_ntoa(fcntl.ioctl(sock.fileno(), _SIOCGIFNETMASK, packed)[20:24])
    except OSError as exc:
        if exc.errno == errno.ENODEV:
            raise DnsmasqError(f"no interface '{name}': check the name with 'ip link'") from exc
        if exc.errno == errno.EADDRNOTAVAIL:
            raise DnsmasqError(f"interface {name} has no IPv4 address: add one, e.g. "
                               f"'ip addr add 192.168.88.1/24 dev {name}'") from exc
        raise DnsmasqError(f"cannot read the address of {name}: {exc.strerror}") from exc
    network = ipaddress.IPv4Network(f"{address}/{netmask}", strict=False)
    return InterfaceAddress(name, ipaddress.IPv4Address(address), network)


def check_interface_name(name: str) -> str:
    if ":" in name:
        raise UsageError(f"'{name}' is an address label, not an interface: give the "
                         f"interface itself ({name.split(':')[0]})")
    if not _INTERFACE.match(name):
        raise UsageError(f"'{name}' is not a valid interface name: see 'ip link'")
    return name


def is_loopback(name: str) -> bool:
    with contextlib.suppress(OSError, ValueError):
        return int(Path(f"/sys/class/net/{name}/type").read_text()) == 772  # ARPHRD_LOOPBACK
    return False


LOOPBACK_WARNING = ("{name} is the loopback interface: boards can never reach it; give the "
                    "interface the boards are cabled to")


def check_path(path: str, what: str) -> str:
    absolute = os.path.abspath(path)
    if not _SAFE_PATH.match(absolute):
        raise UsageError(f"{what} '{path}' has characters that cannot go into a dnsmasq "
                         "config (spaces, commas, quotes, newlines...): use a plainer path")
    return absolute


@dataclass(frozen=True)
class ServedImage:
    """One boot image as the config serves it."""

    image: BootImage
    range_start: ipaddress.IPv4Address | None = None  # RouterOS rendering only
    range_end: ipaddress.IPv4Address | None = None
    block: ipaddress.IPv4Network | None = None

    @property
    def name(self) -> str:
        return self.image.name

    @property
    def tag(self) -> str:
        return "nt_" + self.image.name.replace("-", "_")

    @property
    def vendor_classes(self) -> tuple[str, ...]:
        return self.image.vendor_classes

    @property
    def boot_file(self) -> str:
        return self.image.boot_file

    @property
    def needs_uefi(self) -> bool:
        return self.image.elf is None  # the x86 image boots UEFI PXE clients only


@dataclass
class NetbootPlan:
    interface: InterfaceAddress
    range_start: ipaddress.IPv4Address
    range_end: ipaddress.IPv4Address
    lease_time: str
    tftp_root: str
    lease_file: str
    images: list[ServedImage]
    explicit_server_ip: ipaddress.IPv4Address | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def server_ip(self) -> ipaddress.IPv4Address:
        return self.explicit_server_ip or self.interface.address


# ---------------------------------------------------------------------- planning


def _parse_ip(text: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text.strip())
    except ValueError:
        raise UsageError(f"{what} '{text}' is not an IPv4 address") from None


def _range(spec: str | None, iface: InterfaceAddress, option: str = "--range"
           ) -> tuple[ipaddress.IPv4Address, ...]:
    network = iface.network
    if spec is None:
        if network.num_addresses < 8:
            raise UsageError(f"the subnet {network} of {iface.name} is too small for a "
                             "default range: give --range START,END")
        half = network.num_addresses // 2
        upper = (network.network_address + half, network.broadcast_address - 1)
        lower = (network.network_address + 2, network.network_address + half - 1)
        start, end = upper if not upper[0] <= iface.address <= upper[1] else lower
        return start, end
    parts = spec.split(",")
    if len(parts) != 2:
        raise UsageError(f"--range wants START,END, not '{spec}'")
    start, end = (_parse_ip(p, f"{option} address") for p in parts)
    for address in (start, end):
        if address not in network:
            raise UsageError(f"{option} address {address} is outside {iface.name}'s subnet "
                             f"{network}: pick addresses inside it")
        if address in (network.network_address, network.broadcast_address):
            what = "network" if address == network.network_address else "broadcast"
            raise UsageError(f"{option} address {address} is the {what} address of "
                             f"{network}: it cannot be handed out; pick one inside")
    if start > end:
        raise UsageError(f"--range starts at {start}, after its end {end}")
    if start <= iface.address <= end:
        if start == end:
            raise UsageError(f"{option} {start} is {iface.name}'s own address: give the "
                             "board another one")
        raise UsageError(f"{option} {start}-{end} includes {iface.name}'s own address "
                         f"{iface.address}: leave it out")
    return start, end


def available_images(tftp_root: str) -> list[BootImage]:
    """Boot images present in the TFTP root: from bootimages.json, else by file name."""
    root = Path(tftp_root)
    manifest = root / "bootimages.json"
    names: list[str] = []
    if manifest.exists():
        try:
            records = json.loads(manifest.read_text()).get("images", [])
            names = [r["arch"] for r in records if r.get("arch")]
        except (OSError, ValueError, AttributeError, TypeError):
            names = []
    if not names:
        names = [image.name for image in BOOT_IMAGES]
    return [image for name in names if (image := boot_image_by_name(name)) is not None
            and (root / image.boot_file).is_file()]


def plan_netboot(interface: str, tftp_root: str, range_spec: str | None = None,
                 lease_time: str = "1h", server_ip: str | None = None,
                 archs: tuple[str, ...] = (), lease_file: str | None = None,
                 address: InterfaceAddress | None = None, range_option: str = "--range"
                 ) -> NetbootPlan:
    """Check every input and decide what to serve; raise with what to fix."""
    check_interface_name(interface)
    root = check_path(tftp_root, "TFTP root")
    if not _LEASE_TIME.match(lease_time):
        raise UsageError(f"--lease-time '{lease_time}' is not a dnsmasq lease time: use e.g. "
                         "1h, 45m, 3600 or infinite")
    lease = check_path(lease_file or f"/var/lib/misc/nitools-dnsmasq-{interface}.leases",
                       "lease file")
    iface = address or interface_address(interface)
    start, end = _range(range_spec, iface, range_option)  # -a's address says "-a"
    explicit = _parse_ip(server_ip, "--server-ip") if server_ip else None
    warnings: list[str] = []
    if is_loopback(interface):
        warnings.append(LOOPBACK_WARNING.format(name=interface))
    if Path(root).exists() and not Path(root).is_dir():
        raise UsageError(f"TFTP root {root} is a file, not a folder: point --tftp-root at the "
                         "folder of the boot images")
    if not Path(root).is_dir():
        raise DnsmasqError(f"TFTP root {root} does not exist: run 'nitools extract -o {root}' "
                           "first, or point --tftp-root at the boot images")
    if archs:
        chosen = []
        for name in archs:
            image = boot_image_by_name(name)
            if image is None:
                known = ", ".join(i.name for i in BOOT_IMAGES)
                raise UsageError(f"unknown architecture '{name}': choose from {known}")
            if not (Path(root) / image.boot_file).is_file():
                warnings.append(f"{image.boot_file} is missing in {root}: {name} boards will "
                                "get an address but no boot image")
            chosen.append(image)
    else:
        chosen = available_images(root)
        if not chosen:
            raise DnsmasqError(f"no boot images in {root}: run 'nitools extract -o {root}' "
                               "first, or choose them with --arch")
    served = [ServedImage(image) for image in chosen]
    plan = NetbootPlan(iface, start, end, lease_time, root, lease, served, explicit, warnings)
    check_tftp_access(plan)
    return plan


def plan_router(interface: str, tftp_root: str, router_address: str,
                range_spec: str | None = None, lease_time: str = "1h",
                server_ip: str | None = None, archs: tuple[str, ...] = ()) -> NetbootPlan:
    """A plan for a RouterOS router's own DHCP and TFTP (``--format routeros``): its
    interface, its address and subnet, and a folder on its disk; nothing of it is on this
    machine. Without --arch every boot image is served (upload those you have)."""
    check_interface_name(interface)
    root = check_path(tftp_root, "TFTP root")
    try:
        given = ipaddress.ip_interface(router_address)
    except ValueError:
        raise UsageError(f"--router-address {router_address}: give the router's address "
                         "with its prefix, e.g. 192.168.88.1/24") from None
    if given.version != 4 or given.network.prefixlen == 32:
        raise UsageError(f"--router-address {router_address}: an IPv4 address with its "
                         "subnet's prefix, e.g. 192.168.88.1/24")
    if not _LEASE_TIME.match(lease_time):
        raise UsageError(f"--lease-time '{lease_time}' is not a lease time: use e.g. 1h, 45m")
    iface = InterfaceAddress(interface, given.ip, given.network)
    start, end = _range(range_spec, iface)
    explicit = _parse_ip(server_ip, "--server-ip") if server_ip else None
    chosen = []
    for name in archs or [image.name for image in BOOT_IMAGES]:
        image = boot_image_by_name(name)
        if image is None:
            known = ", ".join(i.name for i in BOOT_IMAGES)
            raise UsageError(f"unknown architecture '{name}': choose from {known}")
        chosen.append(image)
    return NetbootPlan(iface, start, end, lease_time, root, "", [ServedImage(image) for
                                                               image in chosen], explicit, [])


def check_tftp_access(plan: NetbootPlan) -> None:
    """dnsmasq drops to an unprivileged user: every folder must be traversable by
    others, and every boot file readable by others."""
    problems = []
    path = Path(plan.tftp_root)
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            problems.append(f"{folder} is not traversable by other users, so dnsmasq cannot "
                            f"reach the boot images: chmod o+x {folder}")
    if not path.stat().st_mode & stat.S_IROTH:
        problems.append(f"{path} is not readable by other users: chmod o+rx {path}")
    for image in plan.images:
        file = path / image.boot_file
        if file.is_file() and not file.stat().st_mode & stat.S_IROTH:
            problems.append(f"{file} is not world-readable, so dnsmasq will refuse to send it: "
                            f"chmod o+r {file}")
    if problems:
        raise DnsmasqError(problems[0])


def _routeros_blocks(plan: NetbootPlan) -> list[ServedImage]:
    network = plan.interface.network
    if network.prefixlen > ROUTEROS_BLOCK:
        raise UsageError(f"the subnet {network} is too small: RouterOS needs a /{ROUTEROS_BLOCK} "
                         "per boot image")
    blocks = [b for b in reversed(list(network.subnets(new_prefix=ROUTEROS_BLOCK)))
              if plan.server_ip not in b and b.network_address != network.network_address]
    if len(blocks) < len(plan.images):
        raise UsageError(f"the subnet {network} has room for {len(blocks)} boot images, "
                         f"{len(plan.images)} asked: choose fewer with --arch")
    return [ServedImage(image.image, block.network_address + 1, block.broadcast_address - 1,
                        block) for image, block in zip(plan.images, blocks, strict=False)]


# --------------------------------------------------------------------- rendering


def render(plan: NetbootPlan, output_format: str = "dnsmasq") -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("nitools.netboot", "templates/dnsmasq"),
        undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True)
    common: dict[str, Any] = {
        "generator": f"nitools {__version__}", "interface": plan.interface.name,
        "server_ip": plan.server_ip, "network": plan.interface.network,
        "netmask": plan.interface.network.netmask, "lease_time": plan.lease_time,
        "tftp_root": plan.tftp_root, "lease_file": plan.lease_file,
    }
    if output_format == "routeros":
        template = environment.get_template("routeros.rsc.j2")
        return template.render(images=_routeros_blocks(plan), **common)
    template = environment.get_template("dnsmasq.conf.j2")
    next_server = f",,{plan.explicit_server_ip}" if plan.explicit_server_ip else ""
    return template.render(images=plan.images, range_start=plan.range_start,
                           range_end=plan.range_end, next_server=next_server, **common)


# ----------------------------------------------------------------------- dnsmasq


def find_dnsmasq() -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    found = shutil.which("dnsmasq", path=path)
    if found is None:
        raise DnsmasqError("dnsmasq is not installed: on Debian/Ubuntu run "
                           "'apt-get install dnsmasq-base'")
    return found


def syntax_check(config_text: str, binary: str | None = None) -> None:
    """Let dnsmasq itself read the config (it catches typos, not wrong semantics)."""
    binary = binary or find_dnsmasq()
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as handle:
        handle.write(config_text)
    try:
        result = subprocess.run([binary, "--test", f"--conf-file={handle.name}"],
                                capture_output=True, text=True, timeout=20, check=False)
    finally:
        os.unlink(handle.name)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise DnsmasqError(f"dnsmasq rejected the rendered config: {detail[0] if detail else ''}")


def dhcp_port_taken() -> bool:
    """Whether a UDP socket already holds port 67 in this network namespace."""
    return 67 in ports_in_use()


# dnsmasq start-up messages and what they mean for the user (docs/dnsmasq.md).
_FAILURES = (
    ("unknown interface", "interface {interface} is missing or has no IPv4 address: check "
                          "'ip addr show {interface}'"),
    ("TFTP directory", "dnsmasq cannot open the TFTP root {tftp_root} as its unprivileged "
                       "user: chmod o+rx on it and every parent folder"),
    ("Address already in use", "another DHCP server already listens on UDP port 67: stop it "
                               "(or run this on another interface/namespace)"),
    ("Permission denied", "dnsmasq needs root to open the DHCP and TFTP ports: run with sudo"),
)


def translate_failure(lines: list[str], plan: NetbootPlan) -> str:
    text = "\n".join(lines)
    if "TFTP" in text and "in use" in text:
        return ("another TFTP server already listens on UDP port 69: stop it (or run this "
                "on another interface/namespace)")
    for needle, message in _FAILURES:
        if needle in text:
            return message.format(interface=plan.interface.name, tftp_root=plan.tftp_root)
    return f"dnsmasq failed to start: {lines[-1] if lines else 'no message'}"
