"""Forged netinstall frames for the lab: ``python -m tests.lab.flooder IFACE STATION_MAC
RATE SECONDS KIND SOFTWARE_ID``, run in a board namespace (its interface only). Kinds:
dscv (a new random MAC each, sent once), double (each sent twice in a row), wtrm (WTRMs in
random MACs' names), arch (an architecture of its own each), squat (SOFTWARE_ID, a real
board's, from a new MAC each). Prints what it sent and how many frames the station sent
to the forged MACs, as JSON."""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import time


def main() -> None:
    iface, station = sys.argv[1], bytes.fromhex(sys.argv[2])
    rate, seconds, kind = int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    squatted = sys.argv[6].encode()  # the real board's software ID (squat)
    owed = 0.0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", 5000))
    s.setblocking(False)
    sent = to_fakes = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        batch_start = time.monotonic()
        owed += rate / 100
        for _ in range(int(owed)):
            owed -= 1
            mac = b"\x06" + os.urandom(5)
            if kind == "wtrm":  # a board waiting for TERM, in a random MAC's name
                frame = struct.pack("<6s6sHHHH", mac, station, 0, 4, 9, 9) + b"WTRM"
            else:
                software_id = squatted if kind == "squat" else os.urandom(4).hex().encode()
                arch = b"arch-" + os.urandom(6).hex().encode() if kind == "arch" else b"arm64"
                body = b"DSCV\n%s\n\nRB5009\n%s\n7.12\n7.16.1\n\0" % (software_id, arch)
                frame = struct.pack("<6s6sHHHH", mac, bytes(6), 0, len(body), 1, 0) + body
            for _ in range(2 if kind == "double" else 1):
                s.sendto(frame, ("255.255.255.255", 5000))
            sent += 1
        while True:
            try:
                data = s.recv(4096)
            except BlockingIOError:
                break
            if data[:6] == station and data[6:7] == b"\x06":
                to_fakes += 1
        time.sleep(max(0.0, 0.01 - (time.monotonic() - batch_start)))
    print(json.dumps({"sent": sent, "station_frames_to_fakes": to_fakes}))


if __name__ == "__main__":
    main()
