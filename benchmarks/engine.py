"""The station engine's own Python work per frame, with no sockets and no root: the
station core and the runner's turn over a link whose 64 boards answer every frame at
once (no emulator, no kernel). Prints microseconds of CPU per frame sent; what the
answers cost to make is measured and taken out.

    python3 benchmarks/engine.py [--boards 64] [--size-mib 2]

benchmarks/station.py --only cpu measures the whole station over real sockets.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nitools.emulation.synthetic import build_npk
from nitools.netinstall import messages
from nitools.netinstall.frame import HEADER
from nitools.netinstall.messages import Announcement
from nitools.station.engine.core import StationCore
from nitools.station.engine.settings import EngineSettings
from nitools.station.plan.ini import InstallDefaults
from nitools.station.plan.payload import PayloadCache
from nitools.station.plan.prepare import prepare_or_refuse
from nitools.wire.link import Datagram, local_admin_mac
from nitools.wire.runner import InlineExecutor, Runner

STATION = bytes.fromhex("02aaaaaaaaaa")


class InstantBoards:
    """A link whose boards answer each frame the moment it is sent, as the protocol
    says (YACK, STRT, RETR, WTRM; nothing to TERM)."""

    mac = STATION
    peer_port = 5000

    def __init__(self) -> None:
        self.inbox: list[Datagram] = []
        self.sent = 0
        self.answering = 0.0  # CPU seconds spent making answers: not the station's

    def receive(self) -> list[Datagram]:
        taken, self.inbox = self.inbox, []
        return taken

    def send(self, datagram: bytes) -> None:
        started = time.process_time()
        self.sent += 1
        seq = int.from_bytes(datagram[16:18], "little")
        if seq == 1:
            reply: bytes | None = b"YACK\n"
        elif seq == 2:
            reply = b"STRT"
        elif datagram[20:24] == b"TERM":
            reply = None
        elif datagram[20:] == b"FILE\n":
            reply = b"WTRM"
        else:
            reply = b"RETR"
        if reply is not None:
            self.inbox.append((HEADER.pack(datagram[6:12], STATION, 0, len(reply), seq, seq)
                               + reply, 5000, None))
        self.answering += time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boards", type=int, default=64)
    parser.add_argument("--size-mib", type=float, default=2)
    args = parser.parse_args()
    package = build_npk(size=int(args.size_mib * 1024 * 1024))

    class Plugin:
        def get_files(self, info: object) -> tuple[bytes, None]:
            return package, None

    now = 0.0
    link = InstantBoards()
    core = StationCore(STATION, EngineSettings(count=args.boards))
    cache = PayloadCache()
    runner = Runner(link, core, clock=lambda: now, executor=InlineExecutor(),
                    work=lambda r: prepare_or_refuse(Plugin(), r, InstallDefaults(), cache),
                    source_port=5000)
    announcements = []
    for index in range(args.boards):
        dscv = messages.build_dscv(Announcement(f"AB{index:02d}-CDEF", "", "RB5009UG+S+",
                                                "arm64", "7.0", "7.16"))
        announcements.append((HEADER.pack(local_admin_mac(index), bytes(6), 0, len(dscv), 1, 0)
                               + dscv, 5000, None))
    next_announcement = 0.0
    started = time.process_time()
    while not core.done(now):
        now += 0.00002
        if now >= next_announcement:  # boards announce every second until offered
            next_announcement = now + 1.0
            link.inbox += [a for a in announcements
                           if a[0][:6] not in core.boards and core.finished.get(a[0][:6]) is None]
        if not link.inbox:  # nothing on the wire: on to the next timer
            wakeup = min(runner.next_wakeup() or next_announcement, next_announcement)
            now = max(now, wakeup)
        runner.step(now, link.receive())
    spent = time.process_time() - started - link.answering
    print(f"[engine] {core.result.finished} boards x {args.size_mib:g} MiB: {link.sent} frames "
          f"sent; {spent / link.sent * 1e6:.2f} us of CPU per frame (answers taken out)")


if __name__ == "__main__":
    main()
