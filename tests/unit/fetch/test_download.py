"""The one streaming download, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from nitools.errors import SourceError
from nitools.fetch.download import copy_body, reason
from nitools.fetch.mirror import FetchError
from tests.helpers import http_server

BODY = bytes(range(256)) * 64


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        if self.path == "/drip":  # a byte every 50 ms: never a read timeout
            for byte in BODY[:100]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
            return
        self.wfile.write(BODY)


@pytest.fixture
def server() -> Iterator[str]:
    with http_server(handler=_Handler) as url:
        yield url


def fetch(url: str, **limits):
    body = bytearray()
    seen: list[tuple[int, int | None]] = []
    options = {"limit": 1 << 20, "seconds": 30.0, "cancelled": threading.Event(), **limits}
    with requests.get(url, stream=True, timeout=5) as response:
        done = copy_body(response, url, body.extend, total=len(BODY),
                         progress=lambda d, t: seen.append((d, t)), **options)
    return bytes(body), done, seen


def test_the_whole_body_arrives_with_progress(server):
    body, done, seen = fetch(server + "/ok")
    assert body == BODY and done == len(BODY) and seen[-1] == (len(BODY), len(BODY))


def test_a_resumed_download_counts_what_it_had(server):
    with requests.get(server + "/ok", stream=True, timeout=5) as response:
        done = copy_body(response, "u", lambda chunk: None, limit=1 << 20, seconds=30,
                         cancelled=threading.Event(), start=1000)
    assert done == 1000 + len(BODY)


def test_a_body_past_the_limit_is_refused_with_the_callers_error(server):
    with pytest.raises(FetchError, match="grew past 1000 bytes"):
        fetch(server + "/ok", limit=1000, error=FetchError)


def test_a_dripping_server_fails_at_the_deadline_not_the_read_timeout(server):
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"took longer than 0\.5 s"):
        fetch(server + "/drip", seconds=0.5)
    assert time.monotonic() - started < 3


def test_a_stop_is_seen_between_the_bytes(server):
    cancelled = threading.Event()
    threading.Timer(0.3, cancelled.set).start()
    with pytest.raises(SourceError, match="stopped"):
        fetch(server + "/drip", cancelled=cancelled)


def test_network_failures_are_told_in_a_few_words():
    timeout = requests.ReadTimeout("HTTPConnectionPool(host='x', port=80): Read timed out.")
    assert reason(timeout) == "the server stopped answering (timeout)"
    with socket.socket() as closed:  # a port nobody listens on: refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(requests.ConnectionError) as refused:
        requests.get(f"http://127.0.0.1:{port}/x", timeout=5)
    assert reason(refused.value) == "[Errno 111] Connection refused"
    long = requests.ConnectionError("word " * 100)
    assert reason(long).endswith("word ...") and len(reason(long)) <= 165


def test_a_urls_password_and_query_values_are_hidden_in_any_text():
    from nitools.fetch.download import redact

    assert redact("inventory https://user:pw@h.lan/api/x?token=abc&site=1 failed") == \
        "inventory https://***@h.lan/api/x?token=***&site=*** failed"
    assert redact("http://h/x and a?b=c outside a URL") == "http://h/x and a?b=c outside a URL"
