"""A station under an announcement flood: 10,000 forged DSCVs per second (each from a
new random MAC) for 30 s over a veth pair between namespaces, while a real emulated
board net-boots and must still be flashed. Prints: the real board's result and time,
the station's peak RSS, and the frames the station sent per forged announcement.
Needs root.

    sudo python3 benchmarks/flood.py [--rate 10000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO, NetnsPair

# Runs inside the board namespace: sends forged announcements from port 5000 on the
# board's interface, and counts what the station sends back (broadcasts reach every
# socket bound to the port).
FLOODER = textwrap.dedent("""
    import json, os, socket, struct, sys, time
    iface, station = sys.argv[1], bytes.fromhex(sys.argv[2])
    rate, seconds = int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", 5000)); s.setblocking(False)
    sent = to_fakes = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        batch_start = time.monotonic()
        for _ in range(rate // 100):
            mac = b"\\x06" + os.urandom(5)
            software_id = os.urandom(4).hex().encode()
            body = b"DSCV\\n%s\\n\\nRB5009\\narm64\\n7.12\\n7.16.1\\n\\0" % software_id
            s.sendto(struct.pack("<6s6sHHHH", mac, bytes(6), 0, len(body), 1, 0) + body,
                     ("255.255.255.255", 5000))
            sent += 1
        while True:
            try:
                data = s.recv(4096)
            except BlockingIOError:
                break
            if data[:6] == station and data[6:7] == b"\\x06":
                to_fakes += 1
        time.sleep(max(0.0, 0.01 - (time.monotonic() - batch_start)))
    print(json.dumps({"sent": sent, "station_frames_to_fakes": to_fakes}))
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    pair = NetnsPair.create()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            package = folder / "routeros-7.16.1-arm64.npk"
            package.write_bytes(build_npk("system", "7.16.1", "arm64", size=4 << 20, seed=3))
            ini = folder / "flood.ini"
            ini.write_text(f"[nitools]\nfirmware={package}\n")
            env = dict(os.environ, PYTHONPATH=str(REPO))
            station_mac = pair.mac(pair.flasher_ns, FLASHER_IF).replace(":", "")
            flash = subprocess.Popen(
                ["ip", "netns", "exec", pair.flasher_ns, sys.executable, "-m", "nitools",
                 "flash", "--plain", "-c", str(ini), "-i", FLASHER_IF, "--journal",
                 str(folder / "j.sqlite3")], stderr=subprocess.PIPE, text=True, env=env)
            time.sleep(1.0)
            flooder = subprocess.Popen(
                ["ip", "netns", "exec", pair.board_ns, sys.executable, "-c", FLOODER, BOARD_IF,
                 station_mac, str(args.rate), str(args.seconds)], stdout=subprocess.PIPE,
                text=True)
            time.sleep(5.0)  # the flood is on
            started = time.monotonic()
            board = pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--seed", "5",
                               "--format-time", "0.2", "--timeout", str(args.seconds))
            summary = json.loads(board.communicate(timeout=args.seconds + 30)[0])
            took = time.monotonic() - started
            flood = json.loads(flooder.communicate(timeout=args.seconds + 30)[0])
            flash.send_signal(signal.SIGTERM)
            log = flash.stderr.read()
            _, status, usage = os.wait4(flash.pid, 0)
    finally:
        pair.destroy()
    (real,) = summary["boards"]
    print(f"[flood] {flood['sent']} forged announcements in {args.seconds:g} s "
          f"({flood['sent'] / args.seconds:.0f}/s)")
    print(f"[flood] the real board: {real['state']} after {took:.1f} s "
          f"(files {'complete' if real['installed'] else 'NOT complete'})")
    print(f"[flood] station: peak RSS {usage.ru_maxrss / 1024:.0f} MB, CPU "
          f"{usage.ru_utime + usage.ru_stime:.1f} s, exit {os.waitstatus_to_exitcode(status)}, "
          f"{log.count('Traceback')} tracebacks")
    print(f"[flood] frames the station sent to forged boards: "
          f"{flood['station_frames_to_fakes']} = "
          f"{flood['station_frames_to_fakes'] / max(flood['sent'], 1):.4f} per forged "
          "announcement")


if __name__ == "__main__":
    main()
