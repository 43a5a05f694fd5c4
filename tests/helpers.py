"""Shared test helpers: emulated boards on loopback, a real HTTP server, the CLI."""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nitools.emulation.emulator import BoardSpec, Emulator, Faults, make_boards
from nitools.emulation.synthetic import build_npk
from nitools.netinstall import events
from nitools.netinstall.messages import Announcement
from nitools.wire.link import LoopbackLink, local_admin_mac

REPO = Path(__file__).resolve().parent.parent


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LoopbackBoards:
    emulator: Emulator
    flasher_port: int
    board_port: int
    thread: threading.Thread

    @property
    def loopback_arg(self) -> str:
        """What ``nitools flash --loopback`` needs to reach these boards."""
        return f"{self.flasher_port}:{self.board_port}"


@contextlib.contextmanager
def loopback_boards(spec: BoardSpec | None = None, count: int = 1, faults: Faults | None = None,
                    timeout: float = 60) -> Iterator[LoopbackBoards]:
    spec, faults = spec or BoardSpec(), faults or Faults()
    flasher_port = free_udp_port()
    link = LoopbackLink(0, flasher_port, local_admin_mac(0xE0))
    board_port = link.sock.getsockname()[1]
    boards = make_boards(spec, count, seed=3, now=time.monotonic(), source_port=flasher_port)
    emulator = Emulator(link, boards, faults)
    thread = threading.Thread(target=emulator.run, kwargs={"timeout": timeout}, daemon=True)
    thread.start()
    try:
        yield LoopbackBoards(emulator, flasher_port, board_port, thread)
    finally:
        emulator.stop()
        thread.join(5)
        link.close()


# Journals written by tests go to a private state folder, never the user's own.
STATE_HOME = tempfile.mkdtemp(prefix="nitools-test-state-")


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_STATE_HOME": STATE_HOME, **(env or {})}
    return subprocess.run([sys.executable, "-m", "nitools", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; /cut/<name> promises the whole file but sends half of it."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/cut/"):
            data = (Path(self.directory) / self.path[5:]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        super().do_GET()


@contextlib.contextmanager
def http_server(folder: Path | None = None,
                handler: Callable[..., http.server.BaseHTTPRequestHandler] | None = None
                ) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``folder`` (or answering with
    ``handler``, a request handler class); yields its base URL."""
    if handler is None:
        def handler(*args, **kwargs):
            return _Handler(*args, directory=str(folder), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def attempt_events(mac: bytes, outcome: str = "rebooted", offered: bool = True):
    """The events of one attempt: found, offered (unless not), finished."""
    announcement = Announcement("ID-" + mac.hex(), "", "RB", "arm64", "7.12", "7.16.1")
    out = [events.Found(0.0, mac, announcement)]
    if offered:
        out.append(events.Validated(0.1, mac, (events.SentFile("r.npk", 10, "ab", "x"),),
                                    "default"))
        out.append(events.Accepted(0.2, mac))
    out.append(events.Finished(1.0, mac, events.Outcome(outcome), f"reason {outcome}",
                               bytes_acked=10, macs=(mac,)))
    return out


def write_arm64_releases(folder: Path, versions: tuple[str, ...], size: int) -> Path:
    """A system package and a container package (a tenth of its size) per version,
    synthetic, named as MikroTik names them."""
    for version in versions:
        (folder / f"routeros-{version}-arm64.npk").write_bytes(
            build_npk("system", version, "arm64", size=size, seed=1))
        (folder / f"container-{version}-arm64.npk").write_bytes(
            build_npk("container", version, "arm64", size=size // 10, seed=2,
                      requires=("system", version)))
    return folder


def board_request(mac: bytes = bytes.fromhex("024e49000001"), model: str = "RB5009",
                  arch: str = "arm64", min_version: str = "7.12", software_id: str = "",
                  key: str = "", image_version: str | None = None, port: str | None = None):
    """What the engine asks a worker to prepare for one board."""
    from nitools.station.engine.contract import PrepareRequest

    return PrepareRequest(mac, Announcement(software_id, key, model, arch, min_version,
                                            image_version), port)
