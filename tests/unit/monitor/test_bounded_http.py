"""The station's HTTP server: a crowd of idle clients takes neither its threads nor
its pages."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

from nitools.monitor import bounded_http
from nitools.monitor.bounded_http import BoundedHTTPServer


class _Hello(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")


def status(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status
    finally:
        connection.close()


def test_idle_connections_are_bounded_turned_away_and_closed(monkeypatch):
    monkeypatch.setattr(bounded_http, "IDLE_TIMEOUT", 2.0)
    server = BoundedHTTPServer(("127.0.0.1", 0), _Hello, max_threads=8)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
    try:
        deadline = time.monotonic() + 5
        while threading.active_count() - before < 8 and time.monotonic() < deadline:
            time.sleep(0.01)  # the server takes its 8 connections
        time.sleep(0.2)
        assert threading.active_count() - before == 8  # not one thread per connection
        assert status(port) == 503  # full: turned away at once, not queued
        time.sleep(2.5)  # the idle ones said nothing: closed
        assert idle[0].recv(1) == b""
        assert status(port) == 200
    finally:
        for sock in idle:
            sock.close()
        server.shutdown()
        server.server_close()
        thread.join(5)
