"""`nitools dnsmasq --run` killed outright (SIGKILL) takes dnsmasq down with it, and
the next --run starts cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from nitools.routeros.archs import BOOT_IMAGES
from tests.lab.netns import FLASHER_IF, NetnsPair

pytestmark = pytest.mark.lab
DNSMASQ = shutil.which("dnsmasq", path=os.pathsep.join([os.environ.get("PATH", ""),
                                                         "/usr/sbin", "/sbin"]))


def our_dnsmasq() -> list[tuple[int, str]]:
    """(PID, run-time folder) of every dnsmasq that nitools started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in argv:
            if arg.startswith(b"--conf-file=") and b"nitools-dnsmasq-" in arg and \
                    Path(argv[0].decode()).name == "dnsmasq":
                found.append((int(entry.name), os.path.dirname(arg[12:].decode())))
    return found


def start(pair: NetnsPair, root: Path) -> subprocess.Popen:
    process = pair.start(pair.flasher_ns, "dnsmasq", "-i", FLASHER_IF, "--tftp-root",
                         str(root), "--lease-file", str(root / "leases"), "--run", "-v",
                         stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    assert process.stderr is not None
    for line in process.stderr:
        if "TFTP root is" in line:
            return process
        assert time.monotonic() < deadline, "dnsmasq did not start"
    pytest.fail(f"nitools dnsmasq exited: {process.wait()}")


def test_sigkill_of_nitools_takes_dnsmasq_down_and_the_next_run_starts(netns_pair):
    if DNSMASQ is None:
        pytest.skip("dnsmasq is not installed (Debian: apt-get install dnsmasq-base)")
    before = {pid for pid, _ in our_dnsmasq()}
    root = Path(tempfile.mkdtemp(prefix="nitools-tftp-"))
    os.chmod(root, 0o755)
    for image in BOOT_IMAGES:
        (root / image.boot_file).write_bytes(os.urandom(2000))
        (root / image.boot_file).chmod(0o644)
    try:
        subprocess.run(["ip", "-n", netns_pair.flasher_ns, "addr", "add", "192.0.2.1/24",
                        "dev", FLASHER_IF], check=True)
        first = start(netns_pair, root)
        (pid, runtime), = [(p, r) for p, r in our_dnsmasq() if p not in before]
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        deadline = time.monotonic() + 5
        while any(p == pid for p, _ in our_dnsmasq()):
            assert time.monotonic() < deadline, "dnsmasq outlived nitools"
            time.sleep(0.05)
        deadline = time.monotonic() + 5
        while os.path.exists(runtime):
            assert time.monotonic() < deadline, f"{runtime} was left behind"
            time.sleep(0.05)
        second = start(netns_pair, root)  # the port is free again
        second.send_signal(signal.SIGTERM)
        assert second.wait(10) == 0
    finally:
        shutil.rmtree(root, ignore_errors=True)
