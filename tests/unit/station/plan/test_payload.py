"""The payload cache: each source read or downloaded once, shared, bounded, and given
up on at its deadline."""

import base64
import threading

import pytest

from nitools.emulation.synthetic import build_npk
from nitools.errors import SourceError
from nitools.station.plan.payload import PayloadCache
from tests.helpers import http_server

KEY = base64.b64encode(bytes(range(64))).decode()


def test_a_path_is_read_once_and_its_bytes_shared(tmp_path):
    path = tmp_path / "p.npk"
    path.write_bytes(build_npk())
    cache = PayloadCache()
    first, second = cache.resolve(str(path)), cache.resolve(str(path))
    assert cache.resolutions == 1 and first.data is second.data
    path.write_bytes(build_npk(seed=2, size=70_000))  # edited: read again
    assert cache.resolve(str(path)).data != first.data and cache.resolutions == 2


def test_a_url_is_downloaded_once_even_when_boards_ask_at_once(tmp_path):
    (tmp_path / "p.npk").write_bytes(build_npk(size=2_000_000))
    cache = PayloadCache(url_ttl=60)
    with http_server(tmp_path) as base:
        url = f"{base}/p.npk"
        results = []
        threads = [threading.Thread(target=lambda: results.append(cache.resolve(url)))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert cache.resolutions == 1
    assert len({id(r.data) for r in results}) == 1


def test_the_same_content_from_different_sources_is_held_once(tmp_path):
    data = build_npk()
    for name in ("a.npk", "b.npk"):
        (tmp_path / name).write_bytes(data)
    cache = PayloadCache()
    assert cache.resolve(str(tmp_path / "a.npk")).data is cache.resolve(
        str(tmp_path / "b.npk")).data


def test_failures_are_not_cached(tmp_path):
    cache = PayloadCache()
    with pytest.raises(Exception, match="not found"):
        cache.resolve(str(tmp_path / "late.npk"))
    (tmp_path / "late.npk").write_bytes(b"now here")
    assert cache.resolve(str(tmp_path / "late.npk")).data == b"now here"


def test_a_download_that_drips_fails_at_its_deadline(tmp_path):
    import http.server
    import time as clock

    class Drip(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):  # a byte every 0.2 s: no read timeout ever fires
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                clock.sleep(0.2)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cache = PayloadCache(download_seconds=1.5)
        started = clock.monotonic()
        with pytest.raises(SourceError, match=r"took longer than 1\.5 s"):
            cache.resolve(f"http://127.0.0.1:{server.server_address[1]}/slow.npk")
        assert clock.monotonic() - started < 5
    finally:
        server.shutdown()
        server.server_close()


def test_the_payload_cache_holds_a_bounded_number_of_bytes():
    cache = PayloadCache(max_bytes=3 * 1024 * 1024)
    for index in range(20):
        cache.resolve(bytes([index]) * (1024 * 1024))
    assert cache.held_bytes <= 3 * 1024 * 1024


def test_what_a_url_payload_records_as_its_source_hides_its_secrets(tmp_path):
    """Issue 27 row 13: a file's source (the journal's files column) kept the URL whole."""
    from nitools.station.plan.payload import resolve

    (tmp_path / "r.npk").write_bytes(b"x" * 10)
    with http_server(tmp_path) as base:
        resolved = resolve(base.replace("http://", "http://u:pa55@") + "/r.npk?sig=s3cret")
    assert resolved.data == b"x" * 10 and resolved.name == "r.npk"
    assert "pa55" not in resolved.origin and "s3cret" not in resolved.origin
    assert resolved.origin.endswith("/r.npk?sig=***")
