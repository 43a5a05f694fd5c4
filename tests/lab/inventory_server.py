"""An inventory server for the lab: ``python -m tests.lab.inventory_server PORT ROWS.json``.

``GET /boards/MAC`` answers ``ROWS[MAC]`` as JSON, 404 for a MAC not in ROWS, and for a
MAC whose row is the string ``"stall"`` takes the request and never answers. Prints
``ready`` once it listens (the test waits for it)."""

from __future__ import annotations

import http.server
import json
import sys
import threading


def main() -> None:
    port, rows_path = int(sys.argv[1]), sys.argv[2]
    with open(rows_path, encoding="utf-8") as handle:
        rows = json.load(handle)
    never = threading.Event()

    class Answers(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            row = rows.get(self.path.rsplit("/", 1)[-1])
            if row == "stall":
                never.wait(120)
                return
            if row is None:
                self.send_error(404)
                return
            body = json.dumps(row).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Answers)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
