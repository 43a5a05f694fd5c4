"""``python -m tests.lab.http_probe METHOD URL [NAME:VALUE...]``: one HTTP request from
inside a lab namespace; prints the status and the body as one JSON line."""

from __future__ import annotations

import json
import sys

import requests


def main() -> int:
    method, url, *pairs = sys.argv[1:]
    headers = dict(pair.split(":", 1) for pair in pairs)
    answer = requests.request(method, url, headers=headers, timeout=15)
    print(json.dumps({"status": answer.status_code, "body": answer.text}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
