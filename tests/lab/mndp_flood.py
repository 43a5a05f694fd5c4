"""Forged MNDP for the lab: ``python -m tests.lab.mndp_flood IFACE RATE SECONDS``.

Sends RATE datagrams a second for SECONDS to 255.255.255.255:5678 on IFACE only (a lab
namespace's interface): announcements of strangers (a new MAC and software ID each, an old
version), garbage, truncated fields and discovery requests. Prints how many it sent."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys
import time

from nitools.netinstall.mndp import MNDP_PORT, Neighbour, build


def main() -> None:
    interface, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    target = ("255.255.255.255", MNDP_PORT)
    kinds = [
        lambda i: build(Neighbour(mac=b"\x02\xff" + struct.pack(">I", i), software_id=f"F{i:07d}",
                                  version="6.0 (stable)", identity="forged", uptime=i), i),
        lambda i: os.urandom(60),
        lambda i: b"\0\0\0\0" + struct.pack(">HH", 1, 500) + b"short",
        lambda i: b"\0\0\0\0",
    ]
    sent, start = 0, time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            # 5 of 8 forged announcements, then garbage, a cut field and a request.
            with contextlib.suppress(OSError):  # a full send buffer: that one is lost
                sock.sendto(kinds[max(0, sent % 8 - 4)](sent), target)
            sent += 1
        time.sleep(0.001)
    print(sent, flush=True)


if __name__ == "__main__":
    main()
