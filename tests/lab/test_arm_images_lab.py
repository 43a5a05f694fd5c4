"""The station on the RouterBoard itself: the arm64, arm/v7 and arm/v5 images, built here with no
registry (tests/container/rootfs.py: mmdebstrap for the architecture under qemu-user in a
user namespace with a binfmt_misc of its own; the host's stays untouched), run under
emulation: ``nitools --version`` and ``nitools demo`` in each; the docker-archive that
RouterOS imports; and the arm64 image's ``nitools station`` configured by NITOOLS_*
variables, flashing an emulated board over real broadcast in the lab."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from nitools.emulation.synthetic import build_npk
from tests.container import emulation
from tests.container.docker_archive import write_archive
from tests.container.rootfs import build
from tests.lab.netns import FLASHER_IF

pytestmark = pytest.mark.lab
QEMU = {"arm64": "qemu-aarch64-static", "arm/v7": "qemu-arm-static",
        "arm/v5": "qemu-arm-static"}
# The CPU qemu-user emulates for each image: an ARMv5TEJ (ARM926EJ-S, as in the EN7562CT
# class) for arm/v5, so an instruction the v5 CPU lacks fails here as it would there.
QEMU_CPU = {"arm/v5": "arm926"}
MACHINE = {"arm64": "aarch64", "arm/v7": "armv7l", "arm/v5": "armv5tel"}
_BUILT: dict[str, Path] = {}  # each architecture's root file system, built once per run
_WORK = Path(tempfile.mkdtemp(prefix="nitools-arm-images-"))


def rootfs(arch: str) -> Path:
    reason = emulation.available() or (None if shutil.which("mmdebstrap") else
                                       "mmdebstrap is not installed (Debian: apt-get "
                                       "install mmdebstrap arch-test)")
    if reason:
        pytest.skip(reason)
    if arch not in _BUILT:
        started = time.monotonic()
        _BUILT[arch] = build(arch, _WORK / arch.replace("/", ""))
        print(f"{arch} root file system built in {time.monotonic() - started:.0f} s")
    return _BUILT[arch]


def emulated(root: Path, *command: str, timeout: float = 300, arch: str = ""
             ) -> subprocess.CompletedProcess:
    cpu = {"QEMU_CPU": QEMU_CPU[arch]} if arch in QEMU_CPU else {}
    return subprocess.run(["python3", "-m", "tests.container.emulation", "chroot", str(root),
                           *command], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **cpu})


@pytest.mark.parametrize("arch", ["arm64", "arm/v7", "arm/v5"])
def test_nitools_runs_in_the_arm_images_under_emulation(arch):
    root = rootfs(arch)
    machine = emulated(root, "/usr/bin/python3", "-c", "import platform; "
                       "print(platform.machine())", arch=arch)
    assert machine.stdout.strip() == MACHINE[arch], machine
    version = emulated(root, "/usr/local/bin/nitools", "--version", arch=arch)
    assert version.returncode == 0 and version.stdout.startswith("nitools, version"), version
    started = time.monotonic()
    demo = emulated(root, "/usr/local/bin/nitools", "demo", "--plain", arch=arch)
    seconds = time.monotonic() - started
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "all boards installed and verified in service (3)" in demo.stderr
    print(f"{arch}: nitools demo under qemu-user in {seconds:.1f} s")


@pytest.mark.parametrize(("arch", "architecture", "variant"),
                         [("arm64", "arm64", "v8"), ("arm/v7", "arm", "v7"),
                          ("arm/v5", "arm", "v5")])
def test_the_docker_archive_routeros_imports(arch, architecture, variant, tmp_path):
    archive = tmp_path / "nitools.tar"
    write_archive(rootfs(arch), arch, "nitools:test", archive)
    with tarfile.open(archive) as outer:
        (manifest,) = json.load(outer.extractfile("manifest.json"))
        config = json.load(outer.extractfile(manifest["Config"]))
        (layer_name,) = manifest["Layers"]
        with tarfile.open(fileobj=outer.extractfile(layer_name)) as layer:
            names = set(layer.getnames())
    assert (config["architecture"], config["variant"], config["os"]) == (architecture,
                                                                         variant, "linux")
    assert config["config"]["Entrypoint"] == ["nitools", "station"]
    assert "NITOOLS_JOURNAL=/data/journal.sqlite3" in config["config"]["Env"]
    assert "XDG_CACHE_HOME=/data/cache" in config["config"]["Env"]
    assert config["config"]["Healthcheck"]["Test"] == ["CMD", "nitools", "health"]
    assert config["config"]["Volumes"] == {"/data": {}}
    assert {"usr/local/bin/nitools", "usr/sbin/dnsmasq", "opt/nitools/lib/nitools/cli.py"} \
        <= names
    compressed = len(subprocess.run(["gzip", "-c", str(archive)], capture_output=True,
                                    check=True).stdout)
    print(f"{arch}: docker-archive {archive.stat().st_size / 2**20:.0f} MiB, "
          f"{compressed / 2**20:.1f} MiB gzip-compressed")
    assert compressed < 60 * 2**20
    if shutil.which("podman"):
        loaded = subprocess.run(["podman", "load", "-q", "-i", str(archive)],
                                capture_output=True, text=True)
        assert loaded.returncode == 0, loaded.stderr
        inspect = subprocess.run(["podman", "image", "inspect", "nitools:test", "--format",
                                  "{{.Architecture}}"], capture_output=True, text=True)
        assert inspect.stdout.strip() == architecture
        subprocess.run(["podman", "rmi", "-f", "nitools:test"], capture_output=True)


def test_the_arm64_image_station_flashes_a_board_from_its_variables(station):
    root = rootfs("arm64")
    # No binfmt_misc where the lab's network is: the image's programs run under qemu-user
    # named on the command line; dnsmasq (another program) cannot, so DHCP is left out.
    qemu = shutil.which(QEMU["arm64"])
    shutil.copy2(qemu, root / "usr" / "bin" / QEMU["arm64"])
    pair = station.pair
    (root / "data" / "routeros-7.16.1-arm64.npk").write_bytes(
        build_npk("system", "7.16.1", "arm64", size=2_000_000, seed=71))
    (root / "etc" / "nitools.ini").write_text(
        "[nitools]\nfirmware = /data/routeros-7.16.1-arm64.npk\n")
    config = json.loads(json.dumps(_config()))
    env = dict(item.split("=", 1) for item in config["Env"])
    env |= {"NITOOLS_INTERFACE": FLASHER_IF, "NITOOLS_NO_DHCP": "1", "NITOOLS_ONE_SHOT": "1",
            "NITOOLS_CONFIG_MODE": "default"}
    process = qemu_chroot(pair, root, env, ["/usr/bin/python3", "/usr/local/bin/nitools",
                                            "station"])
    station.emulate("--seed", "71")
    _, log = process.communicate(timeout=180)
    assert process.returncode == 0, log
    (board,) = station.summaries()
    assert board["installed"]
    with sqlite3.connect(root / "data" / "journal.sqlite3") as db:
        assert [r[0] for r in db.execute("SELECT outcome FROM attempts")] == ["rebooted"]
    rate = re.search(r"upload ([0-9.]+) MB/s", log)
    print(f"arm64 image under qemu-user: one 2 MB board, upload {rate[1]} MB/s")


def qemu_chroot(pair, root: Path, env: dict[str, str], command: list[str]
                ) -> subprocess.Popen:
    """``command`` of the arm64 image, chrooted into it in the flasher namespace (with that
    namespace's /proc and /sys), started through qemu-user named on the command line: the
    environment is set before the chroot, as nothing of the host can run inside."""
    script = (f"mount -t proc proc {root}/proc && mount -t sysfs sysfs {root}/sys && "
              f"mount --rbind /dev {root}/dev && exec env -i \"$@\"")
    variables = [f"{key}={value}" for key, value in env.items()]
    return subprocess.Popen(["ip", "netns", "exec", pair.flasher_ns, "unshare", "--mount",
                             "--propagation", "private", "sh", "-c", script, "sh", *variables,
                             "chroot", str(root), f"/usr/bin/{QEMU['arm64']}", *command],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _config() -> dict:
    from tests.container.docker_archive import CONTAINERFILE, containerfile_settings

    return containerfile_settings(CONTAINERFILE.read_text())
