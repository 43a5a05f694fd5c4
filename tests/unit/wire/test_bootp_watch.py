"""flash serves no BOOTP: a boot loader asking for its image is told about, once per MAC
(issue 29 row 2). The parser and the telling here; the lab test watches a real port."""

import logging
import struct

from nitools.wire.bootp_watch import ADVICE, BootpWatch, boot_request, is_boot_loader

MAC = bytes.fromhex("024e49051001")


def packet(vendor: str = "", message_type: int | None = None) -> bytes:
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 7, 0, 0, bytes(4),
                        bytes(4), bytes(4), bytes(4), MAC.ljust(16, b"\0"), b"", b"")
    options = b"\x63\x82\x53\x63"
    if vendor:
        options += bytes([60, len(vendor)]) + vendor.encode()
    if message_type:
        options += bytes([53, 1, message_type])
    payload = bootp + options + b"\xff"
    udp = struct.pack("!HHHH", 68, 67, 8 + len(payload), 0)
    ip = bytes([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0]) + bytes(4) + b"\xff" * 4
    return ip + udp + payload


def test_requests_are_read_and_only_boot_loaders_count():
    bare = boot_request(packet("ARM64__boot"))
    assert bare is not None and (bare.mac, bare.vendor_class, bare.dhcp) == (
        MAC, "ARM64__boot", False)
    assert is_boot_loader(bare)
    assert is_boot_loader(boot_request(packet("MMipsBoot", message_type=1)))
    assert not is_boot_loader(boot_request(packet("MSFT 5.0", message_type=1)))  # a laptop
    assert boot_request(b"\x45" + bytes(30)) is None


def test_each_mac_is_told_about_once(caplog):
    watch = BootpWatch(())
    request = boot_request(packet("ARM64__boot"))
    with caplog.at_level(logging.WARNING, logger="nitools.flash"):
        for _ in range(5):  # RouterBOOT asks again every few seconds
            watch.seen("eth1", request)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == f"eth1 02:4e:49:05:10:01 as ARM64__boot {ADVICE}"
