"""Two network namespaces joined by a veth pair, both ends created inside them.

Never touches the host namespace: the pair is created with ``ip -n A link add ...
peer ... netns B``, and everything is torn down by name and PID, also on failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE_HOME = tempfile.mkdtemp(prefix="nitools-lab-state-")  # journals of lab runs
FLASHER_IF = "fl0"
BOARD_IF = "bd0"


class NamespacesUnavailable(Exception):
    pass


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


@dataclass
class NetnsPair:
    flasher_ns: str
    board_ns: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    @classmethod
    def create(cls) -> NetnsPair:
        if os.geteuid() != 0:
            raise NamespacesUnavailable("lab tests need root to create network namespaces")
        if shutil.which("ip") is None:
            raise NamespacesUnavailable("the 'ip' command (iproute2) is not installed")
        tag = secrets.token_hex(3)
        pair = cls(f"nitools-fl-{tag}", f"nitools-bd-{tag}")
        try:
            _ip("netns", "add", pair.flasher_ns)
            _ip("netns", "add", pair.board_ns)
            _ip("-n", pair.flasher_ns, "link", "add", FLASHER_IF, "type", "veth",
                "peer", "name", BOARD_IF, "netns", pair.board_ns)
            for ns, iface in ((pair.flasher_ns, FLASHER_IF), (pair.board_ns, BOARD_IF)):
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", ns, "link", "set", iface, "up")
            pair.wait_for_carrier()
        except (subprocess.CalledProcessError, OSError) as exc:
            pair.destroy()
            detail = getattr(exc, "stderr", "") or str(exc)
            raise NamespacesUnavailable(f"cannot create network namespaces: {detail.strip()}"
                                        ) from exc
        return pair

    def add_port(self, flasher_if: str, board_if: str) -> None:
        """Another veth pair between the same two namespaces (a second flashing port)."""
        _ip("-n", self.flasher_ns, "link", "add", flasher_if, "type", "veth", "peer", "name",
            board_if, "netns", self.board_ns)
        for ns, iface in ((self.flasher_ns, flasher_if), (self.board_ns, board_if)):
            _ip("-n", ns, "link", "set", iface, "up")
        deadline = time.monotonic() + 5
        while "NO-CARRIER" in subprocess.run(["ip", "-n", self.flasher_ns, "link", "show",
                                              flasher_if], capture_output=True,
                                             text=True).stdout:
            if time.monotonic() > deadline:
                raise NamespacesUnavailable(f"{flasher_if} never came up")
            time.sleep(0.02)

    def wait_for_carrier(self, timeout: float = 5.0) -> None:
        """Until both veth ends report carrier: frames sent before that are refused."""
        deadline = time.monotonic() + timeout
        for ns, iface in ((self.flasher_ns, FLASHER_IF), (self.board_ns, BOARD_IF)):
            while True:
                out = subprocess.run(["ip", "-n", ns, "link", "show", iface], check=True,
                                     capture_output=True, text=True).stdout
                if "NO-CARRIER" not in out and "state UP" in out:
                    break
                if time.monotonic() > deadline:
                    raise NamespacesUnavailable(f"{iface} in {ns} never came up: {out.strip()}")
                time.sleep(0.02)

    def mac(self, ns: str, iface: str) -> str:
        out = subprocess.run(["ip", "-n", ns, "-o", "link", "show", iface], check=True,
                             capture_output=True, text=True).stdout
        return out.split("link/ether ")[1].split()[0]

    def start(self, ns: str, *args: str, stdout=subprocess.PIPE, module: str = "nitools",
              env: dict[str, str] | None = None) -> subprocess.Popen:
        """Run ``python -m MODULE ARGS`` (nitools by default) inside namespace ``ns``."""
        env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_STATE_HOME": STATE_HOME,
               **(env or {})}
        process = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", module, *args],
            stdout=stdout, stderr=subprocess.PIPE, text=True, env=env)
        self.processes.append(process)
        return process

    def destroy(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        for ns in (self.flasher_ns, self.board_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10,
                           check=False)
