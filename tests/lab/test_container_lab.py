"""The container image, built here with no registry (mmdebstrap + podman import +
podman build --isolation=chroot, tests/container/build.sh), run the only way this
machine allows: its filesystem under chroot inside a lab namespace, with the image's
own ENV and ENTRYPOINT, configured by NITOOLS_* variables. It serves BOOTP + TFTP and
flashes an emulated board; its health check says healthy while it runs."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO

pytestmark = pytest.mark.lab
TOOLS = [tool for tool in ("podman", "mmdebstrap") if shutil.which(tool) is None]


@pytest.fixture(scope="module")
def image():
    if TOOLS:
        pytest.skip(f"{' and '.join(TOOLS)} not installed (Debian: apt-get install podman "
                    "mmdebstrap)")
    if os.geteuid() != 0:
        pytest.skip("building and mounting images here needs root")
    tag = "localhost/nitools:lab-test"
    subprocess.run([str(REPO / "tests" / "container" / "build.sh"), tag], check=True,
                   capture_output=True, timeout=900)
    config = json.loads(subprocess.run(["podman", "image", "inspect", tag], check=True,
                                       capture_output=True, text=True).stdout)[0]["Config"]
    yield tag, config
    subprocess.run(["podman", "rmi", "-f", tag], capture_output=True, check=False)


@pytest.fixture
def rootfs(image):
    """A writable copy of the image's filesystem (a created, never started, container)."""
    tag, config = image
    name = f"nitools-lab-{os.getpid()}-{time.monotonic_ns()}"
    subprocess.run(["podman", "create", "--name", name, tag], check=True, capture_output=True)
    path = Path(subprocess.run(["podman", "mount", name], check=True, capture_output=True,
                               text=True).stdout.strip())
    try:
        yield path, config
    finally:
        subprocess.run(["podman", "umount", name], capture_output=True, check=False)
        subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)


def in_chroot(pair, root: Path, env: dict[str, str], command: list[str]) -> subprocess.Popen:
    """Run ``command`` chrooted into ``root`` inside the flasher namespace, with /proc,
    /sys (the namespace's) and /dev mounted in a mount namespace of its own."""
    script = (f"mount -t proc proc {root}/proc && mount -t sysfs sysfs {root}/sys && "
              f"mount --rbind /dev {root}/dev && exec chroot {root} \"$@\"")
    return subprocess.Popen(["ip", "netns", "exec", pair.flasher_ns, "unshare", "--mount",
                             "--propagation", "private", "sh", "-c", script, "sh",
                             "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()),
                             *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_the_image_runs_a_station_from_the_environment(station, rootfs):
    root, config = rootfs
    pair = station.pair
    subprocess.run(["ip", "-n", pair.flasher_ns, "addr", "add", "192.0.2.1/24", "dev",
                    FLASHER_IF], check=True)
    data = root / "data"
    (data / "tftp").mkdir(parents=True)
    (data / "tftp").chmod(0o755)
    boot = data / "tftp" / "netinstall.arm64"
    boot.write_bytes(os.urandom(200_000))
    boot.chmod(0o644)
    package = build_npk("system", "7.16.1", "arm64", size=150_000, seed=91)
    (data / "routeros-7.16.1-arm64.npk").write_bytes(package)
    (root / "etc" / "nitools.ini").write_text(
        "[nitools]\nfirmware = /data/routeros-7.16.1-arm64.npk\n")
    env = dict(item.split("=", 1) for item in config["Env"])
    env |= {"NITOOLS_INTERFACE": FLASHER_IF, "NITOOLS_TFTP_ROOT": "/data/tftp",
            "NITOOLS_ONE_SHOT": "1", "NITOOLS_CONFIG_MODE": "default"}
    station_process = in_chroot(pair, root, env, config["Entrypoint"])
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(station_process.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not any("listening on interface fl0" in line for line in lines):
        assert station_process.poll() is None and time.monotonic() < deadline, "".join(lines)
        time.sleep(0.05)

    booted = json.loads(subprocess.run(
        ["ip", "netns", "exec", pair.board_ns, sys.executable, "-m", "tests.lab.netboot_client",
         BOARD_IF, "bootp", "ARM64__boot", "--tftp", "netinstall.arm64"], check=True,
        capture_output=True, text=True, timeout=30,
        env=dict(os.environ, PYTHONPATH=str(REPO))).stdout)
    assert booted["tftp"]["size"] == 200_000
    time.sleep(5.5)  # one heartbeat period
    health = in_chroot(pair, root, env, ["nitools", "health"])
    out, err = health.communicate(timeout=30)
    assert health.returncode == 0, out + err
    station.emulate("--seed", "91")
    assert station_process.wait(60) == 0, "".join(lines)
    reader.join(5)
    (board,) = station.summaries()
    assert board["installed"]
    with sqlite3.connect(data / "journal.sqlite3") as db:
        assert [r[0] for r in db.execute("SELECT outcome FROM attempts")] == ["rebooted"]
    after = in_chroot(pair, root, env, ["nitools", "health"])
    after.communicate(timeout=30)
    assert after.returncode == 1  # the station has stopped: unhealthy
