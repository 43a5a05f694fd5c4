"""The mirror's small requests against a real HTTP server that drips its headers: each
has one deadline in all (issue 27 row 10), and a channel asked of a dripping mirror holds
no board whose version needs no network."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from nitools.fetch.mirror import FetchError, Mirror
from nitools.fetch.package_cache import PackageCache
from nitools.fetch.releases import ReleaseChoice, ReleaseFiles
from tests.helpers import http_server

STOP = threading.Event()


class Dripping(http.server.BaseHTTPRequestHandler):
    """Answers every request one header byte every 0.2 s (each within any read timeout)."""

    def log_message(self, *args):
        pass

    def _drip(self):
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 10_000:
            if STOP.is_set():
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.2)

    do_GET = do_HEAD = _drip


@pytest.fixture
def dripping():
    STOP.clear()
    with http_server(handler=Dripping) as url:
        yield url
    STOP.set()


def test_reading_a_channel_has_one_deadline_headers_included(dripping):
    mirror = Mirror(dripping, read_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="did not answer within 1 s"):
        mirror.read_text("routeros/NEWESTa7.stable")
    assert mirror.has("routeros/7.16.1/routeros-7.16.1-arm64.npk") is None  # cannot tell
    assert time.monotonic() - started < 4.0


def test_a_download_whose_headers_drip_fails_in_bounded_time(dripping, tmp_path):
    mirror = Mirror(dripping, read_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="failed"):
        mirror.download("routeros/7.16.1/routeros-7.16.1-arm64.npk", tmp_path / "part")
    assert time.monotonic() - started < 3.0


def test_a_channel_asked_of_a_dripping_mirror_holds_no_other_version(dripping, tmp_path):
    files = ReleaseFiles(ReleaseChoice(), PackageCache(tmp_path / "cache",
                                                       Mirror(dripping, read_timeout=3.0)))
    failed = []

    def ask_channel():
        try:
            files.resolve("testing")
        except FetchError as exc:
            failed.append(exc)

    asking = threading.Thread(target=ask_channel, daemon=True)
    asking.start()
    time.sleep(0.3)  # the channel's question is on the wire now
    started = time.monotonic()
    assert str(files.resolve("7.16.1")) == "7.16.1"
    assert time.monotonic() - started < 0.5  # never waited for the channel
    asking.join(10)
    assert failed  # the channel itself still says why it could not be had


def test_a_mirror_not_reached_says_so_and_not_run_again_to_resume(tmp_path):
    """Issue 29 row 17: a name that did not resolve said "run again to resume"."""
    mirror = Mirror("http://127.0.0.1:9")  # nobody listens: nothing was downloaded
    with pytest.raises(FetchError) as caught:
        mirror.download("routeros-7.16.1-arm64.npk", tmp_path / "r.npk.part")
    assert "check the mirror's address and this machine's network" in str(caught.value)
    assert "resume" not in str(caught.value) and not caught.value.resumable
