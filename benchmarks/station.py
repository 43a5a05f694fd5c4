"""Flashing-station benchmarks over a veth pair between two network namespaces.
Needs root. Each scenario prints its figures and its target.

    sudo python3 benchmarks/station.py [--only throughput,delay,many,rss,loss]

throughput  one board, 16 MiB, no delays: stop-and-wait vs windowed, CPU per frame,
            and a plain Python UDP stop-and-wait ping-pong over the same pair (the bound)
delay       5 ms link delay each way, 4 MiB: windowed vs stop-and-wait
many        32 boards at once, 8 MiB, 1 ms chunk delay, against one board alone
rss         peak RSS of the flasher with 32 boards and a 16 MiB package
loss        5 % frame loss both ways: 20 consecutive installs of 4 MiB
cpu         64 boards x 2 MiB, no loss: the station's CPU per MB installed, the bare cost
            per MB of one sendto and one recvfrom per frame in the same run, their ratio
            (target <= 3)
arm64       the cpu figure of the arm64 image's station under qemu-user next to native
            (builds the image's root file system unless --arm64-root names one)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nitools.emulation.synthetic import build_npk
from nitools.netinstall.protocol import frame_count
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO, NetnsPair

MiB = 1024 * 1024
RATE = re.compile(r"upload ([0-9.]+) MB/s, (\d+) frames resent")


class Bench:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pair = NetnsPair.create()
        self.packages: dict[int, Path] = {}
        self.arm64_root: Path | None = None

    def close(self) -> None:
        self.pair.destroy()

    def ini(self, size: int) -> Path:
        if size not in self.packages:
            path = self.folder / f"routeros-{size}.npk"
            path.write_bytes(build_npk(size=size, seed=size % 1000))
            self.packages[size] = path
        ini = self.folder / f"bench-{size}.ini"
        ini.write_text(f"[nitools]\nfirmware={self.packages[size]}\n")
        return ini

    def emulate(self, *args: str) -> subprocess.Popen:
        return self.pair.start(self.pair.board_ns, "emulate", "-i", BOARD_IF, "--format-time",
                               "0", "--timeout", "300", *args)

    def flash(self, size: int, *args: str, journal: Path | None = None) -> dict:
        """Run one flash to completion; its log, wall time and resource usage."""
        journal = journal or self.folder / f"journal-{time.monotonic_ns()}.sqlite3"
        command = ["ip", "netns", "exec", self.pair.flasher_ns, sys.executable, "-m", "nitools",
                   "flash", "--plain", "-c", str(self.ini(size)), "-i", FLASHER_IF,
                   "--journal", str(journal), *args]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True, env=env)
        log = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"flash failed:\n{log}")
        with sqlite3.connect(journal) as db:
            rows = db.execute("SELECT duration, outcome FROM attempts").fetchall()
        return {"log": log, "wall": time.monotonic() - started,
                "cpu": usage.ru_utime + usage.ru_stime, "sys": usage.ru_stime,
                "rss_mb": usage.ru_maxrss / 1024,
                "rates": [float(m[1]) for m in RATE.finditer(log)],
                "resent": sum(int(m[2]) for m in RATE.finditer(log)), "rows": rows}

    def one(self, size: int, emulate_args: tuple[str, ...] = (), flash_args: tuple[str, ...] = ()
            ) -> dict:
        board = self.emulate(*emulate_args)
        result = self.flash(size, "-1", *flash_args)
        summary = json.loads(board.communicate(timeout=60)[0])
        result["summary"] = summary
        return result


def frames_for(size: int) -> int:
    return frame_count([size])


def ping_pong(bench: Bench, size: int) -> float:
    """A plain Python UDP stop-and-wait over the same pair, as nitools' sockets are set up."""
    server = textwrap.dedent(f"""
        import socket
        s = socket.socket(2, 2); s.setsockopt(1, 2, 1); s.setsockopt(1, 6, 1)
        s.setsockopt(1, 25, b"{BOARD_IF}"); s.bind(("0.0.0.0", 5000))
        reply = bytes(24)
        while True:
            data, _ = s.recvfrom(4096)
            if data == b"stop":
                break
            if len(data) == 1472:  # not our own broadcast replies coming back
                s.sendto(reply, ("255.255.255.255", 5000))
        """)
    client = textwrap.dedent(f"""
        import socket, time
        s = socket.socket(2, 2); s.setsockopt(1, 2, 1); s.setsockopt(1, 6, 1)
        s.setsockopt(1, 25, b"{FLASHER_IF}"); s.bind(("0.0.0.0", 5000))
        frame = bytes(1472)
        frames = {size} // 1452
        time.sleep(0.3)
        start = time.perf_counter()
        for _ in range(frames):
            s.sendto(frame, ("255.255.255.255", 5000))
            while True:  # skip our own broadcast echo
                data, _ = s.recvfrom(4096)
                if len(data) == 24:
                    break
        elapsed = time.perf_counter() - start
        s.sendto(b"stop", ("255.255.255.255", 5000))
        print(frames * 1452 / elapsed / 1e6)
        """)
    echo = subprocess.Popen(["ip", "netns", "exec", bench.pair.board_ns, sys.executable, "-c",
                             server])
    try:
        out = subprocess.run(["ip", "netns", "exec", bench.pair.flasher_ns, sys.executable, "-c",
                              client], capture_output=True, text=True, check=True, timeout=120)
    finally:
        echo.wait(10)
    return float(out.stdout)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def throughput(bench: Bench) -> None:
    size = 16 * MiB
    bound = median([ping_pong(bench, size) for _ in range(3)])
    saw = [bench.one(size, flash_args=("--window", "1")) for _ in range(3)]
    win = [bench.one(size) for _ in range(3)]
    small = bench.one(64 * 1024, flash_args=("--window", "1"))
    cpu_per_frame = (median([r["cpu"] for r in saw]) - small["cpu"]) / (
        frames_for(size) - frames_for(64 * 1024)) * 1e6
    saw_rate = median([r["rates"][0] for r in saw])
    win_rate = median([r["rates"][0] for r in win])
    print(f"[throughput] ping-pong bound (plain Python UDP stop-and-wait): {bound:.1f} MB/s")
    print(f"[throughput] stop-and-wait: {saw_rate:.1f} MB/s = {saw_rate / bound:.0%} of the "
          f"bound (targets >= 12 MB/s and >= 40%)")
    print(f"[throughput] windowed (--window 32, adaptive): {win_rate:.1f} MB/s = "
          f"{win_rate / saw_rate:.2f}x stop-and-wait (target >= 1.5x)")
    print(f"[throughput] flasher CPU per frame, stop-and-wait: {cpu_per_frame:.0f} us "
          "(process CPU time, start-up subtracted)")


def delay(bench: Bench) -> None:
    size, args = 4 * MiB, ("--link-delay", "5")
    saw = bench.one(size, args, ("--window", "1"))["rates"][0]
    win = median([bench.one(size, args, ("--window", "64"))["rates"][0] for _ in range(3)])
    print(f"[delay] 5 ms each way, 4 MiB: stop-and-wait {saw:.2f} MB/s, windowed (64) "
          f"{win:.2f} MB/s = {win / saw:.1f}x (target >= 10x)")


def many(bench: Bench) -> None:
    size = 8 * MiB
    alone = bench.one(size, ("--chunk-delay", "1"))
    alone_time = alone["rows"][0][0]
    emulators = [bench.emulate("--boards", "8", "--seed", str(20 + i), "--chunk-delay", "1")
                 for i in range(4)]
    result = bench.flash(size, "--count", "32")
    boards = [b for e in emulators for b in json.loads(e.communicate(timeout=120)[0])["boards"]]
    ok = sum(b["installed"] for b in boards)
    longest = max(row[0] for row in result["rows"])
    print(f"[many] one board alone (8 MiB, 1 ms per chunk): {alone_time:.1f} s")
    print(f"[many] 32 boards at once: {ok}/32 installed; slowest board {longest:.1f} s, whole "
          f"run {result['wall']:.1f} s = {result['wall'] / alone_time:.1f}x one board "
          "(target <= 3x)")


def rss(bench: Bench) -> None:
    emulators = [bench.emulate("--boards", "8", "--seed", str(40 + i)) for i in range(4)]
    result = bench.flash(16 * MiB, "--count", "32")
    for emulator in emulators:
        emulator.communicate(timeout=120)
    installed = sum(1 for row in result["rows"] if row[1] == "rebooted")
    print(f"[rss] 32 boards, 16 MiB package: flasher peak RSS {result['rss_mb']:.0f} MB, "
          f"{installed}/32 rebooted in {result['wall']:.1f} s (target <= 100 MB)")


def loss(bench: Bench) -> None:
    size = 4 * MiB
    durations, identical = [], 0
    expected = None
    for run in range(20):
        result = bench.one(size, ("--drop", "0.05", "--seed", str(60 + run)))
        durations.append(result["rows"][0][0])
        (board,) = result["summary"]["boards"]
        digest = board["files"][0]["sha256"]
        expected = expected or __import__("hashlib").sha256(
            bench.packages[size].read_bytes()).hexdigest()
        identical += board["installed"] and digest == expected
    print(f"[loss] 5 % loss both ways, 20 installs of 4 MiB: {identical}/20 byte-identical; "
          f"per install median {median(durations):.2f} s, max {max(durations):.2f} s "
          "(target: all < 5 s)")


def bare_send_receive(bench: Bench, frames: int, listeners: int, window: int = 32) -> float:
    """CPU seconds of the unavoidable part alone: one 1472-byte sendto and one recvfrom of
    the board's answer per frame, in one Python process set up as the station's socket is
    (our own broadcast echoes dropped by the kernel's filter, as the station's are). The
    board side has ``listeners`` sockets, each keeping only frames for its own MAC as the
    emulators' do (``Link.keep_only_frames_for``); the first answers every frame. Each
    broadcast reaches all of them, and the sender's system calls pay for that."""
    server = textwrap.dedent(f"""
        import socket, sys
        sys.path.insert(0, {str(REPO)!r})
        from nitools.wire.link import local_admin_mac
        from nitools.wire.socket_filter import attach, udp_mac_filter
        index = int(sys.argv[1])
        s = socket.socket(2, 2); s.setsockopt(1, 2, 1); s.setsockopt(1, 6, 1)
        s.setsockopt(1, 25, b"{BOARD_IF}"); s.bind(("0.0.0.0", 5000))
        attach(s, udp_mac_filter(6, [local_admin_mac(index)], keep=True))
        station = bytes.fromhex("024e49ffffff")
        reply = local_admin_mac(index) + station + bytes(12)
        while True:
            data, _ = s.recvfrom(4096)
            if data[20:] == b"stop":
                break
            if index == 0:
                s.sendto(reply, ("255.255.255.255", 5000))
        """)
    client = textwrap.dedent(f"""
        import socket, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from nitools.wire.link import drop_own_echoes, local_admin_mac
        s = socket.socket(2, 2); s.setsockopt(1, 2, 1); s.setsockopt(1, 6, 1)
        s.setsockopt(1, 25, b"{FLASHER_IF}"); s.bind(("0.0.0.0", 5000))
        station = bytes.fromhex("024e49ffffff")
        frame = station + local_admin_mac(0) + bytes(1460)
        drop_own_echoes(s, station)
        s.settimeout(5)
        time.sleep(0.5)
        start = time.process_time()
        for _ in range({frames} // {window}):
            for _ in range({window}):
                s.sendto(frame, ("255.255.255.255", 5000))
            for _ in range({window}):
                s.recvfrom(4096)
        print(time.process_time() - start)
        for index in range({listeners}):
            s.sendto(station + local_admin_mac(index) + bytes(8) + b"stop",
                     ("255.255.255.255", 5000))
        """)
    board_side = [subprocess.Popen(["ip", "netns", "exec", bench.pair.board_ns, sys.executable,
                                    "-c", server, str(index)]) for index in range(listeners)]
    try:
        out = subprocess.run(["ip", "netns", "exec", bench.pair.flasher_ns, sys.executable, "-c",
                              client], capture_output=True, text=True, check=True, timeout=120)
    finally:
        for process in board_side:
            process.wait(10)
    return float(out.stdout)


EMULATORS = 8  # processes emulating the boards: each has a socket every broadcast reaches


def cpu(bench: Bench, boards: int = 64, size: int = 2 * MiB) -> None:
    """The station's CPU per MB installed against the bare cost of its datagrams."""
    alone = bench.one(size)  # start-up and one board: subtracted, so only the rest counts
    emulators = [bench.emulate("--boards", str(boards // EMULATORS), "--seed", str(80 + i))
                 for i in range(EMULATORS)]
    result = bench.flash(size, "--count", str(boards))
    for emulator in emulators:
        emulator.communicate(timeout=120)
    rebooted = sum(1 for row in result["rows"] if row[1] == "rebooted")
    megabytes = (boards - 1) * size / 1e6
    station = (result["cpu"] - alone["cpu"]) / megabytes
    print(f"[cpu] {boards} boards x {size // MiB} MiB, no loss: {rebooted}/{boards} rebooted "
          f"in {result['wall']:.1f} s; station CPU {result['cpu']:.2f} s ({result['sys']:.2f} s of "
          f"it in the kernel), alone "
          f"{alone['cpu']:.2f} s", flush=True)
    frames = frames_for(size) * (boards - 1)
    alike = bare_send_receive(bench, frames, EMULATORS) / megabytes
    alone_bare = bare_send_receive(bench, frames, 1) / megabytes
    print(f"[cpu] station {station * 1e3:.1f} ms/MB (start-up and one board subtracted); bare "
          f"sendto + recvfrom {alone_bare * 1e3:.1f} ms/MB with one board socket: ratio "
          f"{station / alone_bare:.1f} (target <= 3); {alike * 1e3:.1f} ms/MB with "
          f"{EMULATORS} board sockets, as the emulators have: ratio {station / alike:.1f}")


def qemu_flash(bench: Bench, root: Path, size: int, boards: int) -> dict:
    """``nitools flash`` of the arm64 image under qemu-user in the flasher namespace, against
    emulated boards (native); its CPU time as the process's own resource usage."""
    from tests.lab.test_arm_images_lab import QEMU, qemu_chroot

    shutil.copy2(shutil.which(QEMU["arm64"]), root / "usr" / "bin" / QEMU["arm64"])
    package = root / "data" / "bench.npk"
    package.write_bytes(bench.packages[size].read_bytes())
    (root / "data" / "bench.ini").write_text("[nitools]\nfirmware = /data/bench.npk\n")
    journal = root / "data" / f"journal-{time.monotonic_ns()}.sqlite3"
    emulators = [bench.emulate("--boards", str(max(1, boards // EMULATORS)), "--seed",
                               str(90 + i)) for i in range(min(boards, EMULATORS))]
    process = qemu_chroot(bench.pair, root, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, [
        "/usr/bin/python3", "/usr/local/bin/nitools", "flash", "--plain", "-c",
        "/data/bench.ini", "-i", FLASHER_IF, "--journal", f"/data/{journal.name}", "--count",
        str(boards)])
    _, log = process.communicate()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"the arm64 station failed:\n{log}")
    for emulator in emulators:
        emulator.communicate(timeout=120)
    return {"usage": usage}


def arm64(bench: Bench, boards: int = 64, size: int = 2 * MiB) -> None:
    """The same CPU figure for the arm64 image's station under qemu-user, as a ratio to
    native. qemu-user translates every instruction: it is not a RouterBoard's core, only
    the same code on the same machine through an ARM instruction set."""
    root = bench.arm64_root
    if root is None:
        from tests.container.rootfs import build

        root = build("arm64", bench.folder / "arm64")
    native_alone = bench.one(size)["cpu"]
    emulators = [bench.emulate("--boards", str(boards // EMULATORS), "--seed", str(80 + i))
                 for i in range(EMULATORS)]
    native_all = bench.flash(size, "--count", str(boards))["cpu"]
    for emulator in emulators:
        emulator.communicate(timeout=120)
    megabytes = (boards - 1) * size / 1e6

    def cpu_of(usage_before: resource.struct_rusage, usage_after: resource.struct_rusage
               ) -> float:
        return (usage_after.ru_utime - usage_before.ru_utime
                + usage_after.ru_stime - usage_before.ru_stime)

    start = resource.getrusage(resource.RUSAGE_CHILDREN)
    alone = qemu_flash(bench, root, size, 1)["usage"]
    emulated_alone = cpu_of(start, alone)
    everything = qemu_flash(bench, root, size, boards)["usage"]
    emulated_all = cpu_of(alone, everything)
    native_rate = (native_all - native_alone) / megabytes
    emulated_rate = (emulated_all - emulated_alone) / megabytes
    print(f"[arm64] {boards} boards x {size // MiB} MiB: native station {native_rate * 1e3:.1f} "
          f"ms/MB; arm64 image under qemu-user {emulated_rate * 1e3:.1f} ms/MB = "
          f"{emulated_rate / native_rate:.1f}x native (qemu-user is not a RouterBoard's core)")


SCENARIOS = {"throughput": throughput, "delay": delay, "many": many, "rss": rss, "loss": loss,
             "cpu": cpu, "arm64": arm64}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--arm64-root", type=Path, help="an arm64 root file system built "
                        "by 'python3 -m tests.container.rootfs --arch arm64 DIR'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        bench.arm64_root = args.arm64_root
        try:
            for name in args.only.split(","):
                SCENARIOS[name](bench)
        finally:
            bench.close()


if __name__ == "__main__":
    main()
