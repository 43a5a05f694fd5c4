"""``--web [ADDR:]PORT``: the live web view, served from the station's own process.

Routes (GET, and POST for the operator's actions):

* ``/``, ``/static/<file>``: the page and its script and style, from the package;
* ``/api/boards``: the run's boards with their phases and plans (JSON; always needs the
  token, also on loopback);
* ``POST /api/boards/{mac}/{approve|skip|reinstall|reboot}``: an operator's action
  (docs/station.md): the token as ``Authorization: Bearer`` only, never from another
  origin; 200 with the board's new phase, 404 for an unknown MAC, 409 for an action
  that does not fit its phase;
* ``/api/history``: journal rows, newest last, filtered by ``since``, ``mac``,
  ``software_id``, ``outcome``, ``station``, ``limit`` (as ``nitools history``);
* ``/events``: server-sent events, one ``boards`` message per change (at most 4 a
  second) and a comment every 15 s to keep proxies from closing the stream.

Bound to 127.0.0.1 unless an address is given; on any other address a bearer token
(``--web-token``) is required, as ``Authorization: Bearer`` or ``?token=`` (the
browser's EventSource cannot send headers). The server runs in its own threads: the
flashing loop only updates the board table.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from nitools.errors import NitoolsError, UsageError
from nitools.journal.attempts import Journal, JournalError, parse_since
from nitools.monitor.board_table import BoardTable
from nitools.monitor.bounded_http import BoundedHTTPServer
from nitools.monitor.control import carry_out
from nitools.monitor.metrics import parse_listen
from nitools.monitor.tones import tone
from nitools.netinstall.frame import format_mac, parse_mac
from nitools.station.engine.operator import Verdict
from nitools.station.run import OperatorDesk

log = logging.getLogger("nitools.web")

STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
EVENTS_PER_SECOND = 4
KEEPALIVE = 15.0
MAX_HISTORY = 1000
MAX_STREAMS = 32  # browsers watching at once; more are turned away


class WebView:
    def __init__(self, spec: str, boards: BoardTable, journal_location: str | None,
                 token: str | None = None, desk: OperatorDesk | None = None) -> None:
        address, port = parse_listen(spec, "--web")
        if not _is_loopback(address) and not token:
            raise UsageError(f"--web on {address} is reachable from other hosts: give "
                             "--web-token TOKEN (or bind to 127.0.0.1)")
        self.boards = boards
        self.desk = desk  # the running station's operator requests (None: watch only)
        self.journal_location = journal_location
        self.token = token
        self.streams = threading.BoundedSemaphore(MAX_STREAMS)
        self.stopping = threading.Event()
        self._journal: Journal | None = None
        self._journal_lock = threading.Lock()
        view = self

        class Handler(_Handler):
            web = view

        try:
            self.server = BoundedHTTPServer((address, port), Handler,
                                            max_threads=MAX_STREAMS + 16)
        except OSError as exc:
            raise UsageError(f"--web cannot listen on {address}:{port}: {exc.strerror}") \
                from exc
        self.url = f"http://{address}:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, name="web",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("web view at %s%s", self.url, " (token required)" if self.token else "")

    def stop(self) -> None:
        self.stopping.set()
        with self.boards.changed:
            self.boards.changed.notify_all()
        if self._thread.is_alive():  # shutdown() would wait for ever on a server never run
            self.server.shutdown()
        self.server.server_close()
        if self._journal is not None:
            self._journal.close()

    def history(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """Journal rows for /api/history, read on a connection of the web view's own."""
        if self.journal_location is None:
            return []
        since = parse_since(query["since"]) if query.get("since") else None
        mac = format_mac(parse_mac(query["mac"])) if query.get("mac") else None
        try:
            limit = min(int(query.get("limit") or 200), MAX_HISTORY)
        except ValueError:
            raise UsageError("limit must be a number") from None
        with self._journal_lock:
            if self._journal is None:
                self._journal = Journal(self.journal_location, readonly=True)
            rows = self._journal.attempts(
                since, limit, mac=mac, software_id=query.get("software_id") or None,
                outcome=query.get("outcome") or None, station=query.get("station") or None)
        return [{**row.for_output(), "tone": tone(row.outcome)} for row in rows]


_TOKEN = re.compile(r"([?&]token=)[^&\s]*")


class _Handler(BaseHTTPRequestHandler):
    web: WebView
    server_version = "nitools"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        # The request line may carry ?token=...: never into the log.
        log.debug("web: %s %s", self.address_string(), _TOKEN.sub(r"\1***", format % args))

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if not self._host_allowed():
            self._send(421, "text/plain; charset=utf-8", b"this view answers by its own "
                       b"address or localhost only\n")
            return
        # The page's script and style hold no station data, and the browser fetches them
        # without the page's ?token=: they are served to anyone who may reach the view.
        if not parts.path.startswith("/static/") and not self._authorized(query):
            self._send(401, "text/plain; charset=utf-8", b"a bearer token is required\n",
                       {"WWW-Authenticate": "Bearer"})
            return
        path = parts.path
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path.startswith("/static/") and path[8:] in STATIC:
            self._static(path[8:])
        elif path == "/api/boards":
            if self._operator_refused(query):
                return
            boards = self.web.desk.boards() if self.web.desk is not None \
                else self.web.boards.snapshot()[1]
            self._json({"boards": boards})
        elif path == "/api/history":
            try:
                self._json({"attempts": self.web.history(query)})
            except (NitoolsError, ValueError) as exc:
                status = 503 if isinstance(exc, JournalError) else 400
                self._json({"error": str(exc)}, status)
        elif path == "/events":
            self._events()
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        """An operator's action: ``/api/boards/{mac}/{action}``."""
        parts = urlsplit(self.path).path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["api", "boards"]:
            self._refuse()
            return
        if not self._host_allowed():
            self._send(421, "text/plain; charset=utf-8", b"wrong host\n")
            return
        if self._operator_refused({}, header_only=True):
            return
        if self.web.desk is None:
            self._json({"error": "this view only watches: no station runs here"}, 409)
            return
        mac, action = unquote(parts[2]), parts[3]  # the page escapes the MAC's colons
        try:
            answer = carry_out(self.web.desk, {"action": action, "macs": [mac]},
                               f"token from {self.client_address[0]}")
        except (NitoolsError, ValueError) as exc:
            self._json({"error": str(exc)}, 400)
            return
        if "results" not in answer:
            self._json({"error": "an action, not boards, is posted"}, 400)
            return
        (result,) = answer["results"]
        status = {Verdict.DONE.value: 200, Verdict.UNKNOWN.value: 404}.get(
            result["verdict"], 409)
        self._json(result, status)

    def _refuse(self) -> None:
        self._send(405, "text/plain; charset=utf-8", b"GET, or POST an action\n",
                   {"Allow": "GET, HEAD, POST"})

    do_PUT = do_DELETE = do_PATCH = _refuse

    def _operator_refused(self, query: dict[str, str], header_only: bool = False) -> bool:
        """The operator's API always needs the token (also on loopback), and an action
        never comes from a page of another origin. True: refused (answered)."""
        origin = self.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != \
                self.headers.get("Host", "").lower():
            self._json({"error": "actions come from the station's own page only"}, 403)
            return True
        if not self.web.token:
            self._json({"error": "the operator's API needs a token: start the station "
                        "with --web-token TOKEN"}, 403)
            return True
        given = self.headers.get("Authorization", "")
        offered = given[7:] if given.startswith("Bearer ") else \
            ("" if header_only else query.get("token", ""))
        if not hmac.compare_digest(offered.encode(), self.web.token.encode()):
            self._send(401, "text/plain; charset=utf-8", b"a bearer token is required\n",
                       {"WWW-Authenticate": "Bearer"})
            return True
        return False

    def _host_allowed(self) -> bool:
        """Without a token the view listens on loopback only; a page of another site that
        makes its name resolve to 127.0.0.1 (DNS rebinding) still sends that name as the
        Host: answer only to the bound address or localhost."""
        if self.web.token:
            return True  # the token is the guard, whatever name was used
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.strip("[]").lower()
        return name in {"localhost", str(self.server.server_address[0]), "127.0.0.1", "::1"}

    def _authorized(self, query: dict[str, str]) -> bool:
        token = self.web.token
        if not token:
            return True
        given = self.headers.get("Authorization", "")
        offered = given[7:] if given.startswith("Bearer ") else query.get("token", "")
        return hmac.compare_digest(offered.encode(), token.encode())

    def _static(self, name: str) -> None:
        body = resources.files("nitools.monitor.web").joinpath("static", name).read_bytes()
        self._send(200, STATIC[name], body, {"Cache-Control": "no-cache"})

    def _json(self, document: Any, status: int = 200) -> None:
        self._send(status, "application/json", json.dumps(document).encode())

    def _send(self, status: int, kind: str, body: bytes,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _events(self) -> None:
        if not self.web.streams.acquire(blocking=False):
            self._send(503, "text/plain; charset=utf-8", b"too many viewers\n")
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            seen, last_sent = -1, 0.0
            while not self.web.stopping.is_set():
                version = self.web.boards.wait_for_change(seen, KEEPALIVE)
                if self.web.stopping.is_set():
                    break
                if version == seen:
                    self.wfile.write(b": keep-alive\n\n")
                else:
                    pause = 1 / EVENTS_PER_SECOND - (time.monotonic() - last_sent)
                    if pause > 0:
                        time.sleep(pause)  # changes in between go out in one message
                    seen, rows = self.web.boards.snapshot()
                    self.wfile.write(b"event: boards\ndata: " +
                                     json.dumps(rows).encode() + b"\n\n")
                    last_sent = time.monotonic()
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the browser went away
        finally:
            self.web.streams.release()


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"
