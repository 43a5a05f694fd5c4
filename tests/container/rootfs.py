"""The root file system of the nitools image for one architecture, with no registry and
no build under emulation: ``python -m tests.container.rootfs --arch arm64 DIR``.

Debian bookworm by mmdebstrap for the architecture (python3, its compiled MarkupSafe,
dnsmasq-base, CA certificates; no documentation, manuals or translations), run under
qemu-user in a namespace of its own for a foreign architecture (tests/container/
emulation.py). nitools and its other dependencies are pure Python: pip on this machine
puts their ``py3-none-any`` wheels into /opt/nitools/lib, and /usr/local/bin/nitools
starts it with the image's own python3.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.container import emulation

REPO = Path(__file__).resolve().parents[2]
# The image's architecture (as docker and RouterOS name it) -> Debian's, and the
# (architecture, variant) of the image config.
ARCHES = {"amd64": ("amd64", ("amd64", None)), "arm64": ("arm64", ("arm64", "v8")),
          "arm/v7": ("armhf", ("arm", "v7")),
          # Debian armel (ARMv5TE): RouterBoards whose container runtime takes only
          # arm32v5 images (MikroTik's container documentation: the EN7562CT class)
          "arm/v5": ("armel", ("arm", "v5"))}
DEBIAN_PACKAGES = ("python3", "python3-markupsafe", "dnsmasq-base", "iproute2", "ca-certificates")
# nitools' dependencies and theirs, all published as py3-none-any wheels (MarkupSafe,
# the one with compiled code, comes from Debian above).
PURE_REQUIREMENTS = ("click>=8.1", "jinja2>=3.1", "pefile>=2023.2.7", "pyelftools>=0.29",
                     "requests>=2.28", "urllib3>=2", "rich>=13", "idna", "certifi",
                     "charset-normalizer", "pygments", "markdown-it-py", "mdurl")
LAUNCHER = """#!/usr/bin/python3
# nitools, from its pure-Python install in /opt/nitools/lib (tests/container/rootfs.py)
import sys
sys.path.insert(0, "/opt/nitools/lib")
from nitools.cli import main
sys.exit(main())
"""
SMALLER = ("--dpkgopt=path-exclude=/usr/share/doc/*",
           "--dpkgopt=path-include=/usr/share/doc/*/copyright",
           "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*",
           "--dpkgopt=path-exclude=/usr/share/info/*")


def host_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm/v7", "armv5tel": "arm/v5",
            "armv5tejl": "arm/v5"}.get(
        platform.machine(), platform.machine())


def debian_base(arch: str, target: Path) -> None:
    debian = ARCHES[arch][0]
    command = ["mmdebstrap", "--quiet", "--mode=root", f"--arch={debian}",
               "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}", *SMALLER,
               "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/* "
               "$1/var/log/*.log $1/var/cache/debconf/*-old",
               "bookworm", str(target)]
    if arch == host_arch():
        subprocess.run(command, check=True)
        return
    # In the emulation's user namespace, proc and sysfs cannot be mounted (they belong to
    # the host's namespaces); the packages' scripts do without them.
    command[1:1] = ["--skip=chroot/mount/proc", "--skip=chroot/mount/sys"]
    if emulation.run(command) != 0:
        raise SystemExit(f"mmdebstrap for {arch} failed")


def install_nitools(target: Path) -> None:
    lib = target / "opt" / "nitools" / "lib"
    shutil.rmtree(lib, ignore_errors=True)  # a fresh install, also over an earlier one
    with tempfile.TemporaryDirectory() as wheels:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                        "--wheel-dir", wheels, str(REPO)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-compile", "--target", str(lib), "--only-binary=:all:",
                        "--platform", "any", "--implementation", "py", "--abi", "none",
                        "--python-version", "3.11", *PURE_REQUIREMENTS,
                        *map(str, Path(wheels).glob("nitools-*.whl"))], check=True)
    for folder in lib.glob("*.dist-info"):  # keep the licences, not the installer's records
        for name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
            (folder / name).unlink(missing_ok=True)
    launcher = target / "usr" / "local" / "bin" / "nitools"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(LAUNCHER)
    launcher.chmod(0o755)
    for folder in ("data", "run/nitools"):
        (target / folder).mkdir(parents=True, exist_ok=True)


def build(arch: str, target: Path) -> Path:
    if arch not in ARCHES:
        raise SystemExit(f"--arch {arch}: one of {', '.join(ARCHES)}")
    if target.exists():
        shutil.rmtree(target)
    debian_base(arch, target)
    install_nitools(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default=host_arch(), choices=sorted(ARCHES))
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    build(args.arch, args.target)
    print(args.target)


if __name__ == "__main__":
    os.umask(0o022)
    main()
