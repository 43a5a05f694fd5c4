"""``nitools demo``: the whole flash path against emulated boards, on any machine.

Synthetic packages are built in a temporary folder; emulated boards of
different architectures run in a thread over a loopback link (127.0.0.1 only,
never a real interface); the real station flashes them through a plugin that
picks the package by the board's architecture; every received file is then
compared byte for byte with what was sent.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from nitools.console import setup_logging
from nitools.emulation.emulator import BoardSpec, Emulator, Faults, make_boards
from nitools.emulation.mndp_speaker import MndpSpeaker
from nitools.emulation.synthetic import build_npk
from nitools.errors import UsageError
from nitools.monitor.ui import make_reporter
from nitools.netinstall.frame import format_mac
from nitools.netinstall.protocol import CONFIG_SCRIPT_NAME
from nitools.station.engine.core import StationCore
from nitools.station.engine.settings import EngineSettings
from nitools.station.plan.plugins import DeviceInfo
from nitools.station.run import StationLoop
from nitools.station.setup.config import DEFAULTS
from nitools.station.setup.port_setup import PortSetup, StationSetup
from nitools.wire.link import LoopbackLink, local_admin_mac
from nitools.wire.mndp_link import MndpListener

log = logging.getLogger("nitools.demo")

DEMO_VERSION = "7.16.1"
DEMO_BOARDS = (
    BoardSpec(model="RB5009UG+S+", arch="arm64", min_version="7.12", format_time=0.3),
    BoardSpec(model="RB4011iGS+", arch="arm", min_version="6.45.9", format_time=0.3),
    BoardSpec(model="RB750Gr3", arch="mmips", min_version="6.40", image_version=None,
              format_time=0.3),
)
DEMO_SCRIPT = b"# nitools demo first-boot script\n/system identity set name=demo-board\n"


class DemoPlugin:
    """Picks the system package by the board's architecture, plus one extra and a script."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get_files(self, info: DeviceInfo) -> tuple[Any, ...]:
        system = self.folder / f"routeros-{DEMO_VERSION}-{info.arch}.npk"
        extra = self.folder / f"container-{DEMO_VERSION}-{info.arch}.npk"
        return str(system), str(extra), str(self.folder / "demo.rsc")


def build_demo_files(folder: Path, size: int, arches: set[str]) -> None:
    for index, arch in enumerate(sorted(arches)):
        (folder / f"routeros-{DEMO_VERSION}-{arch}.npk").write_bytes(
            build_npk("system", DEMO_VERSION, arch, size=size, seed=index))
        (folder / f"container-{DEMO_VERSION}-{arch}.npk").write_bytes(
            build_npk("container", DEMO_VERSION, arch, size=96 * 1024, seed=100 + index,
                      requires=("system", DEMO_VERSION)))
    (folder / "demo.rsc").write_bytes(DEMO_SCRIPT)


def run_demo(board_count: int, size: int, drop: float, window: int, plain: bool,
             keep: str | None = None) -> int:
    reporter = make_reporter(force_plain=plain)
    setup_logging(0, None, reporter.log_handler())
    specs = [DEMO_BOARDS[i % len(DEMO_BOARDS)] for i in range(board_count)]
    with tempfile.TemporaryDirectory(prefix="nitools-demo-") as tmp:
        folder = Path(tmp)
        build_demo_files(folder, size, {s.arch for s in specs})
        log.info("demo: %d emulated boards, %.1f MiB system packages, loopback link only",
                 board_count, size / 1048576)
        flasher_link = LoopbackLink(0, 0, local_admin_mac(0xF1A5))
        board_link = LoopbackLink(0, flasher_link.sock.getsockname()[1], local_admin_mac(0xE0))
        flasher_link.peer = ("127.0.0.1", board_link.sock.getsockname()[1])
        now = time.monotonic()
        boards = [board for index, spec in enumerate(specs)
                  for board in make_boards(spec, 1, seed=index + 1, now=now,
                                           source_port=flasher_link.sock.getsockname()[1])]
        # After its reboot each board announces itself (MNDP) a moment later, as RouterOS
        # does; the station verifies it runs the version sent (docs/verify.md).
        station_ear = LoopbackLink(0, 0, flasher_link.mac)
        board_voice = LoopbackLink(0, station_ear.sock.getsockname()[1], local_admin_mac(0xE1))
        station_ear.peer = ("127.0.0.1", board_voice.sock.getsockname()[1])
        speaker = MndpSpeaker(board_voice, boards, after=1.0)
        emulator = Emulator(board_link, boards, Faults(drop=drop, seed=7), speaker=speaker,
                            linger=None)  # they answer until the demo ends
        thread = threading.Thread(target=emulator.run, kwargs={"timeout": 300}, daemon=True)
        thread.start()
        config = replace(DEFAULTS, engine=EngineSettings(count=board_count, window=window,
                                                         verify=True, verify_timeout=30.0))
        core = StationCore(flasher_link.mac, config.engine)
        started = time.monotonic()
        try:
            setup = StationSetup(PortSetup(config, DemoPlugin(folder)), {})
            loop = StationLoop(flasher_link, core, setup, on_event=reporter.event,
                               on_tick=reporter.tick, mndp=MndpListener([station_ear]))
            result = loop.run()
        finally:
            emulator.stop()
            thread.join(5)
            for link in (flasher_link, board_link, station_ear, board_voice):
                link.close()
            reporter.close()
        elapsed = time.monotonic() - started
        code = _report(folder, boards, result.exit_code, elapsed, result.verified)
        if keep is not None:
            _keep(folder, Path(keep))
        return code


def _keep(folder: Path, target: Path) -> None:
    """``--keep DIR``: the demo's synthetic packages and script, to try the station with
    `nitools emulate` (README, "Emulated boards"); never a real package."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.iterdir()):
            shutil.copyfile(path, target / path.name)
    except OSError as exc:
        raise UsageError(f"--keep {target}: {exc.strerror}: choose a writable folder") \
            from None
    log.info("demo: its synthetic packages and demo.rsc are in %s", target)


def _report(folder: Path, boards: list, exit_code: int, elapsed: float, verified: int
            ) -> int:
    all_good = exit_code == 0
    for board in boards:
        arch = board.announcement.arch
        expected = {
            f"routeros-{DEMO_VERSION}-{arch}.npk": folder / f"routeros-{DEMO_VERSION}-{arch}.npk",
            f"container-{DEMO_VERSION}-{arch}.npk": folder / f"container-{DEMO_VERSION}-{arch}.npk",
            CONFIG_SCRIPT_NAME: folder / "demo.rsc",
        }
        received = {f.name: f for f in board.files}
        same = board.state.value == "rebooted" and received.keys() == expected.keys() and all(
            hashlib.sha256(received[n].data).digest() == hashlib.sha256(p.read_bytes()).digest()
            for n, p in expected.items())
        all_good = all_good and same
        verdict = "byte-identical" if same else "MISMATCH"
        log.info("demo: %s %-12s %-6s %s, files %s", format_mac(board.macs[0]),
                 board.announcement.model, arch, board.state.value, verdict)
    all_good = all_good and verified == len(boards)
    log.info("demo: %s in %.1f s", f"all boards installed and verified in service ({verified})"
             if all_good else "FAILED", elapsed)
    return 0 if all_good else 1
