"""Prometheus metrics scraped over HTTP during a flash over real broadcast between
namespaces (the scrape runs inside the station's namespace, on its loopback)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.stations import Station, ini

pytestmark = pytest.mark.lab
PORT = 19100


def scrape(pair) -> str:
    url = f"http://127.0.0.1:{PORT}/metrics"
    code = f"import urllib.request as u; print(u.urlopen({url!r}, timeout=2).read().decode())"
    result = subprocess.run(["ip", "netns", "exec", pair.flasher_ns, sys.executable, "-c", code],
                            capture_output=True, text=True, timeout=10, check=False)
    return result.stdout


def test_counters_move_as_two_boards_are_flashed(netns_pair, tmp_path):
    station = Station(netns_pair, tmp_path)
    package = tmp_path / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=400_000, seed=8))
    station.emulate("--seed", "51", "--boards", "2", "--chunk-delay", "1")
    flash = station.flash(ini(tmp_path, f"[nitools]\nfirmware={package}\n"),
                          "--metrics", str(PORT))
    seen_uploading, text = False, ""
    deadline = time.monotonic() + 40
    while 'nitools_installs_total{arch="arm64",cause="none",outcome="rebooted"} 2.0' not in text:
        assert time.monotonic() < deadline, text
        text = scrape(netns_pair)
        seen_uploading |= 'nitools_boards{phase="uploading"} 2.0' in text or \
            'nitools_boards{phase="uploading"} 1.0' in text
        time.sleep(0.1)
    flash.send_signal(signal.SIGTERM)
    _, log = flash.communicate(timeout=30)
    assert flash.returncode == 0, log
    assert seen_uploading  # the phase gauge showed boards while they uploaded
    sent = next(line for line in text.splitlines() if line.startswith("nitools_bytes_sent_total"))
    assert float(sent.split()[1]) == 2 * package.stat().st_size
    assert 'nitools_boards{phase="uploading"} 0.0' in text
