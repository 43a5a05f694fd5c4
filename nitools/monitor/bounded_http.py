"""An HTTP server for the station's own pages (web view, metrics) that a crowd of idle
or slow clients cannot exhaust: at most ``max_threads`` connections are served at once,
one more is turned away at once with 503, and a connection that says nothing for
``IDLE_TIMEOUT`` seconds is closed. A station under a pids limit (a container, systemd's
TasksMax) must keep the threads it needs for its own work."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

IDLE_TIMEOUT = 10.0  # seconds a client may keep a connection without a whole request
MAX_THREADS = 64
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
         b"Connection: close\r\n\r\n")


class BoundedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 would drop the handshakes of a burst

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 max_threads: int = MAX_THREADS) -> None:
        self._slots = threading.BoundedSemaphore(max_threads)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)  # a thread of its own
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(IDLE_TIMEOUT)
            super().process_request_thread(request, client_address)
        except (TimeoutError, OSError):
            self.shutdown_request(request)
        finally:
            self._slots.release()
