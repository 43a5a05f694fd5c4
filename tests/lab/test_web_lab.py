"""The live web view in a real headless browser (Debian's Chromium driven by Selenium,
inside the station's namespace): the boards table shows a board progressing to
"rebooted" during a lab flash over real broadcast. The screenshot is kept at
artifacts/web-view.png."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from nitools.emulation.synthetic import build_npk
from tests.lab.netns import FLASHER_IF, REPO

pytestmark = pytest.mark.lab
ARTIFACT = REPO / "artifacts" / "web-view.png"


@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                    reason="chromium and chromedriver not installed (Debian: apt-get install "
                           "chromium chromium-driver)")
def test_the_page_follows_a_board_to_rebooted(station, tmp_path):
    pytest.importorskip("selenium")
    pair = station.pair
    package = tmp_path / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=4_000_000, seed=99))
    flash = pair.start(pair.flasher_ns, "flash", "--plain", "-m", "-i", FLASHER_IF,
                       "--journal", str(station.journal), "--web", "8080", "-r", str(package))
    ARTIFACT.parent.mkdir(exist_ok=True)
    browse = subprocess.Popen(
        ["ip", "netns", "exec", pair.flasher_ns, sys.executable, "-m", "tests.lab.browse",
         "http://127.0.0.1:8080/", str(ARTIFACT), "60"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    # the board boots only once the page is open: the table must show it from the start
    station.emulate("--seed", "99", "--chunk-delay", "1")
    out, err = browse.communicate(timeout=120)
    flash.terminate()
    _, log = flash.communicate(timeout=30)
    assert browse.returncode == 0, out + err
    report = json.loads(out)
    phases = [row["phase"] for row in report["seen"]]
    assert phases[-1] == "rebooted", report
    assert "uploading" in phases, phases
    assert any(row["progress"].endswith("%") and row["progress"] != "100 %"
               for row in report["seen"]), report["seen"]  # a moving progress bar
    assert report["status"] == "live"
    steps = [part.split()[0] for part in report["history_timeline"].split(" · ")]
    assert steps == ["found", "offered", "formatted", "uploaded", "term-sent", "rebooted"], \
        report
    green = "rgba(46, 125, 50, 1)"  # .tone-good: the terminal's green for the same result
    assert report["result_colours"] == {"boards": [green], "history": [green]}, report
    # ISO 8601 in the browser's time zone, whatever its language (not "12/7/2026, 4:05 PM")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", report["history_started"][0])
    assert ARTIFACT.stat().st_size > 10_000
    assert "web view at http://127.0.0.1:8080/" in log
