"""What dnsmasq's log says about each board before it talks netinstall (docs/verify.md):
a BOOTP/DHCP request with its vendor class and the boot file offered, then the TFTP
transfer of that file, sent or failed.

dnsmasq ``--log-dhcp`` lines carry the request's transaction ID; the address and the MAC
come in the reply line (``BOOTP(fl0) 192.0.2.213 02:4e:...``); TFTP lines name the
address only, so the reader remembers which MAC got which address. One reader per
dnsmasq, fed line by line from its relay thread; bounded memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nitools.bounded import Bounded
from nitools.netinstall.events import NetbootKind
from nitools.netinstall.frame import parse_mac

REMEMBERED = 4096  # transactions and addresses kept

_PREFIX = re.compile(r"^dnsmasq(?:-\w+)?\[\d+\]: ")
_VENDOR = re.compile(r"^(\d+) vendor class: (.*)$")
_REPLY = re.compile(r"^(\d+) (?:BOOTP|DHCPACK|DHCPOFFER)\((\S+)\) (\d+\.\d+\.\d+\.\d+) "
                    r"([0-9A-Fa-f:]{17})\b")
_IGNORED = re.compile(r"^(\d+) (BOOTP|DHCPDISCOVER|DHCPREQUEST)\((\S+)\) (?:\S+ )?"
                      r"([0-9A-Fa-f:]{17}) ignored$")
_NAME = re.compile(r"^(\d+) client provides name: (.*)$")
_NO_ADDRESS = re.compile(r"^(\d+) (?:BOOTP|DHCPDISCOVER)\((\S+)\) (?:\S+ )?"
                         r"([0-9A-Fa-f:]{17}) no address available$")
_BOOT_FILE = re.compile(r"^(\d+) bootfile name: (\S+)$")
# dnsmasq writes the file a client asked for as it is, spaces included: every pattern is
# anchored at the end, and the address is the one at the end of the line.
_SENT = re.compile(r"^sent (.+) to (\d+\.\d+\.\d+\.\d+)$")
_NOT_FOUND = re.compile(r"^file (.+) not found for (\d+\.\d+\.\d+\.\d+)$")
_FAILED = re.compile(r"^failed sending (.+) to (\d+\.\d+\.\d+\.\d+)$")
_ERROR = re.compile(r"^(?:TFTP )?error \d+ (.*) (?:received )?from (\d+\.\d+\.\d+\.\d+)$")


@dataclass(frozen=True)
class Sighting:
    """One thing dnsmasq did for a board, with the time it was read."""

    kind: NetbootKind
    mac: bytes
    at: float
    detail: str  # vendor class and boot file, the file sent, or why it failed
    port: str | None = None  # the interface dnsmasq served it on (its reply line says)
    address: str | None = None  # the address it was given (DHCP)


class DnsmasqLogReader:
    def __init__(self, served: tuple[str, ...] = ()) -> None:
        self.served = served  # the vendor classes this dnsmasq has a boot image for
        self._vendor: Bounded[str, str] = Bounded(REMEMBERED)  # transaction -> vendor class
        # address -> the MAC that got it, and the interface it was served on
        self._mac_of: Bounded[str, tuple[bytes, str]] = Bounded(REMEMBERED)
        self._address_of: Bounded[str, str] = Bounded(REMEMBERED)  # transaction -> address
        self._boot_file: Bounded[str, str] = Bounded(REMEMBERED)  # address -> file offered
        self._name: Bounded[str, str] = Bounded(REMEMBERED)  # transaction -> host name

    def feed(self, line: str, at: float) -> list[Sighting]:
        text = _PREFIX.sub("", line.strip())
        if match := _VENDOR.match(text):
            self._vendor.put(match[1], match[2].strip())
        elif match := _REPLY.match(text):
            mac = _mac(match[4])
            if mac is None:
                return []
            self._mac_of.put(match[3], (mac, match[2]))
            self._address_of.put(match[1], match[3])
            vendor = self._vendor.pop(match[1], "")
            return [Sighting(NetbootKind.DHCP, mac, at,
                             f"vendor class {vendor or '-'}, address {match[3]}", match[2],
                             match[3])]
        elif match := _BOOT_FILE.match(text):
            address = self._address_of.get(match[1])
            if address is not None:
                self._boot_file.put(address, match[2].rsplit("/", 1)[-1])
        elif match := _NO_ADDRESS.match(text):
            mac = _mac(match[3])
            self._vendor.pop(match[1], None)
            if mac is not None:  # others are ignored before dnsmasq looks for an address
                return [Sighting(NetbootKind.NO_ADDRESS, mac, at,
                                 "no address left in the range", match[2])]
        elif match := _NAME.match(text):
            self._name.put(match[1], match[2].strip())
        elif match := _IGNORED.match(text):
            mac, vendor = _mac(match[4]), self._vendor.pop(match[1], "")
            name = self._name.pop(match[1], "")
            if mac is None:
                return []
            if not vendor:
                if match[2] == "BOOTP":
                    return []
                # An ordinary DHCP client (nitools' dnsmasq does not answer it): maybe a
                # board up in RouterOS asking on ether1 (docs/verify.md, "booted")
                return [Sighting(NetbootKind.DHCP_CLIENT, mac, at,
                                 f"host name '{name}'" if name else "no host name logged",
                                 match[3])]
            served = ", ".join(self.served) or "none"
            return [Sighting(NetbootKind.NO_IMAGE, mac, at, f"vendor class {vendor} has no "
                             f"boot image here (served: {served})", match[3])]
        elif match := _SENT.match(text):
            if (served := self._board(match[1], match[2])) is not None:
                return [Sighting(NetbootKind.TFTP, served[0], at, match[1].rsplit("/", 1)[-1],
                                 served[1])]
        elif match := _NOT_FOUND.match(text):
            if (served := self._board(match[1], match[2])) is not None:
                name = match[1].rsplit("/", 1)[-1]
                return [Sighting(NetbootKind.TFTP_FAILED, served[0], at,
                                 f"{name} not found in the TFTP root", served[1])]
        elif match := _FAILED.match(text):
            if (served := self._board(match[1], match[2])) is not None:
                return [Sighting(NetbootKind.TFTP_FAILED, served[0], at, match[1], served[1])]
        elif (match := _ERROR.match(text)) is not None \
                and (served := self._mac_of.get(match[2])) is not None:
            return [Sighting(NetbootKind.TFTP_FAILED, served[0], at, match[1], served[1])]
        return []

    def _board(self, file: str, address: str) -> tuple[bytes, str] | None:
        """The board (MAC, interface) a TFTP line is about: the one leased ``address``, and
        only for the boot file it was offered (anyone may ask for another name, or
        spoof the address in a request that fails)."""
        served = self._mac_of.get(address)
        if served is None or file.rsplit("/", 1)[-1] != self._boot_file.get(address):
            return None
        return served


def _mac(text: str) -> bytes | None:
    try:
        return parse_mac(text)
    except ValueError:
        return None
