"""BOOTP requests in the names of many boards, from one interface (the lab's board side):
``python3 -m tests.lab.bootp_many IFACE MAC...`` prints each MAC's address as JSON
(null: no answer). dnsmasq broadcasts BOOTP replies, so one socket hears them all."""

from __future__ import annotations

import json
import socket
import sys

from tests.lab.netboot_client import exchange, request

ATTEMPTS = 3  # a board asks again when it hears nothing


def main() -> None:
    interface, macs = sys.argv[1], [bytes.fromhex(text) for text in sys.argv[2:]]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    sock.bind(("0.0.0.0", 68))
    out = {}
    for number, mac in enumerate(macs):
        reply = None
        for attempt in range(ATTEMPTS):
            xid = (number << 8) + attempt + 1
            reply = exchange(sock, request(mac, xid, "ARM64__boot"), xid, 1.0)
            if reply is not None:
                break
        out[mac.hex()] = reply["yiaddr"] if reply else None
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
