"""A RouterBOOT-like netboot client, run inside a test namespace: BOOTP or DHCP
with a vendor class (option 60), then a TFTP download. Prints JSON.

    python -m tests.lab.netboot_client IFACE bootp|dhcp VENDOR_CLASS [--tftp FILE]
        [--blksize N] [--client-arch N] [--timeout S]

RouterBOOT sends BOOTP with flags 0 and the RFC 1497 magic cookie, option 60
first; in DHCP mode it asks for options 1 and 3. The client has no address, so it
sends from 0.0.0.0:68 on a socket tied to the interface, and hears broadcast
replies (the config under test must broadcast BOOTP replies). For DHCP it sets
the broadcast flag, as a client without an address must.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import time

MAGIC = b"\x63\x82\x53\x63"


def mac_of(interface: str) -> bytes:
    with open(f"/sys/class/net/{interface}/address") as handle:
        return bytes.fromhex(handle.read().strip().replace(":", ""))


def request(mac: bytes, xid: int, vendor_class: str, dhcp_type: int | None = None,
            requested: bytes | None = None, server: bytes | None = None,
            client_arch: int | None = None, hostname: str | None = None) -> bytes:
    flags = 0x8000 if dhcp_type else 0
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, flags, bytes(4),
                         bytes(4), bytes(4), bytes(4), mac.ljust(16, b"\0"), b"", b"")
    options = MAGIC
    if vendor_class:
        options += bytes([60, len(vendor_class)]) + vendor_class.encode()
    if dhcp_type:
        options += bytes([53, 1, dhcp_type, 55, 2, 1, 3])
    if requested:
        options += bytes([50, 4]) + requested
    if server:
        options += bytes([54, 4]) + server
    if client_arch is not None:
        options += bytes([93, 2]) + struct.pack("!H", client_arch)
    if hostname:  # option 12, as RouterOS's DHCP client sends its identity
        options += bytes([12, len(hostname)]) + hostname.encode()
    packet = header + options + b"\xff"
    return packet.ljust(300, b"\0")


def parse(packet: bytes) -> dict:
    op, _htype, _hlen, _hops, xid = struct.unpack_from("!BBBBI", packet)
    yiaddr, siaddr = packet[16:20], packet[20:24]
    sname = packet[44:108].split(b"\0", 1)[0].decode("latin-1")
    file = packet[108:236].split(b"\0", 1)[0].decode("latin-1")
    options = {}
    if packet[236:240] == MAGIC:
        i = 240
        while i < len(packet) and packet[i] != 255:
            if packet[i] == 0:
                i += 1
                continue
            code, length = packet[i], packet[i + 1]
            options[code] = packet[i + 2:i + 2 + length]
            i += 2 + length
    return {"op": op, "xid": xid, "yiaddr": socket.inet_ntoa(yiaddr),
            "siaddr": socket.inet_ntoa(siaddr), "sname": sname, "file": file,
            "message_type": options[53][0] if 53 in options else None,
            "options": sorted(options)}


def exchange(sock: socket.socket, packet: bytes, xid: int, timeout: float) -> dict | None:
    sock.sendto(packet, ("255.255.255.255", 67))
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(2048)
        except TimeoutError:
            return None
        if len(data) >= 240 and data[0] == 2 and struct.unpack_from("!I", data, 4)[0] == xid:
            return parse(data)
    return None


def tftp_get(server: str, name: str, blksize: int | None, interface: str, timeout: float
             ) -> dict:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    sock.settimeout(timeout)
    rrq = b"\x00\x01" + name.encode() + b"\0octet\0"
    if blksize:
        rrq += b"blksize\0" + str(blksize).encode() + b"\0"
    sock.sendto(rrq, (server, 69))
    block_size, expected, body, blocks, oack = 512, 1, bytearray(), 0, False
    while True:
        data, peer = sock.recvfrom(65536)
        opcode = struct.unpack_from("!H", data)[0]
        if opcode == 6:  # OACK: the server took our block size
            fields = data[2:].split(b"\0")
            block_size = int(fields[fields.index(b"blksize") + 1])
            oack = True
            sock.sendto(b"\x00\x04\x00\x00", peer)
            continue
        if opcode == 5:
            return {"error": data[4:].split(b"\0")[0].decode("latin-1")}
        block = struct.unpack_from("!H", data, 2)[0]
        if block == expected:  # no OACK means the server ignored blksize: 512-byte blocks
            body += data[4:]
            blocks += 1
            expected = (expected + 1) & 0xFFFF
        sock.sendto(b"\x00\x04" + data[2:4], peer)
        if len(data) - 4 < block_size:
            break
    return {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "blocks": blocks,
            "block_size": block_size, "oack": oack}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("interface")
    parser.add_argument("mode", choices=["bootp", "dhcp"])
    parser.add_argument("vendor_class")
    parser.add_argument("--tftp")
    parser.add_argument("--blksize", type=int)
    parser.add_argument("--client-arch", type=int)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--hostname", help="DHCP option 12 (RouterOS sends its identity)")
    args = parser.parse_args()
    mac = mac_of(args.interface)
    xid = int.from_bytes(os.urandom(4), "big")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.interface.encode())
    sock.bind(("0.0.0.0", 68))
    result: dict = {"vendor_class": args.vendor_class, "mode": args.mode}
    if args.mode == "bootp":
        reply = exchange(sock, request(mac, xid, args.vendor_class,
                                       client_arch=args.client_arch), xid, args.timeout)
        result["reply"] = reply
    else:
        offer = exchange(sock, request(mac, xid, args.vendor_class, 1,
                                       client_arch=args.client_arch,
                                       hostname=args.hostname), xid, args.timeout)
        result["offer"] = offer
        if offer:
            ack = exchange(sock, request(mac, xid, args.vendor_class, 3,
                                         socket.inet_aton(offer["yiaddr"]),
                                         socket.inet_aton(offer["siaddr"]),
                                         client_arch=args.client_arch), xid, args.timeout)
            result["reply"] = ack
        else:
            result["reply"] = None
    sock.close()
    reply = result["reply"]
    if args.tftp and reply:
        # Like the board, take the offered address for the TFTP download, then drop it.
        address = f"{reply['yiaddr']}/24"
        subprocess.run(["ip", "addr", "add", address, "dev", args.interface], check=False,
                       capture_output=True)
        try:
            result["tftp"] = tftp_get(reply["siaddr"], args.tftp, args.blksize,
                                      args.interface, args.timeout)
        finally:
            subprocess.run(["ip", "addr", "del", address, "dev", args.interface], check=False,
                           capture_output=True)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
