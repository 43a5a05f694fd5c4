"""A mixed fleet by version name over real broadcast: boards of three architectures,
one station started with `--routeros stable --package container`, packages fetched from
a real HTTP mirror (inside the station's namespace) into the verified cache."""

from __future__ import annotations

import hashlib

import pytest

from tests.lab.netns import FLASHER_IF
from tests.mirror_server import package_bytes

pytestmark = pytest.mark.lab


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_three_architectures_by_channel_each_get_their_own_files(station, tmp_path):
    pair = station.pair
    server = pair.start(pair.flasher_ns, str(tmp_path / "mirror"), module="tests.mirror_server")
    url = server.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), server.stderr.read()
    for seed, arch in ((61, "arm"), (62, "arm64"), (63, "mipsbe")):
        station.emulate("--seed", str(seed), "--arch", arch)
    flash = pair.start(pair.flasher_ns, "flash", "--plain", "-i", FLASHER_IF, "--journal",
                       str(station.journal), "--routeros", "stable", "--package", "container",
                       "--mirror", url, "--count", "3",
                       env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    _, log = flash.communicate(timeout=90)
    assert flash.returncode == 0, log
    assert "RouterOS 7.16.1 (channel stable)" in log
    boards = station.summaries()
    assert sorted(b["arch"] for b in boards) == ["arm", "arm64", "mipsbe"]
    for board in boards:
        arch = board["arch"]
        assert board["installed"]
        assert {f["name"]: f["sha256"] for f in board["files"]} == {
            f"routeros-7.16.1-{arch}.npk": sha(package_bytes("system", "7.16.1", arch)),
            f"container-7.16.1-{arch}.npk": sha(package_bytes("container", "7.16.1", arch))}
    rows = station.rows()
    assert sorted((r["arch"], r["outcome"]) for r in rows) == [
        ("arm", "rebooted"), ("arm64", "rebooted"), ("mipsbe", "rebooted")]
    # one channel question per run; each package fetched once
    assert log.count("fetching ") == 6
