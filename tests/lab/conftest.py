import os
import shutil
import tempfile
from pathlib import Path

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import NamespacesUnavailable, NetnsPair
from tests.lab.stations import Station


@pytest.fixture
def netns_pair():
    try:
        pair = NetnsPair.create()
    except NamespacesUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield pair
    finally:
        pair.destroy()


@pytest.fixture
def station(netns_pair, tmp_path):
    """A station and its emulated boards in a fresh pair of namespaces."""
    return Station(netns_pair, tmp_path)


@pytest.fixture
def boot_root():
    """A TFTP root dnsmasq's unprivileged user can read (not below pytest's 0700 tmp)."""
    root = Path(tempfile.mkdtemp(prefix="nitools-station-tftp-"))
    root.chmod(0o755)
    image = root / "netinstall.arm64"
    image.write_bytes(os.urandom(300_000))
    image.chmod(0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def package(tmp_path):
    path = tmp_path / "routeros-7.16.1-arm64.npk"
    path.write_bytes(build_npk("system", "7.16.1", "arm64", size=150_000, seed=81))
    return path
