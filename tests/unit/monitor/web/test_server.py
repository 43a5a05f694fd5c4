"""The web view's server over real HTTP on 127.0.0.1: the page and its assets, the
boards API and event stream during a loopback flash, history filters, the token,
read-only methods."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from nitools.emulation.emulator import Faults
from nitools.errors import UsageError
from nitools.journal.attempts import Journal
from nitools.journal.writer import JournalWriter
from nitools.monitor.board_table import BoardTable
from nitools.monitor.web.server import WebView
from nitools.netinstall import events
from tests.helpers import attempt_events, loopback_boards


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, headers: dict | None = None, method: str = "GET"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, response.headers, body


@pytest.fixture
def view(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3", station="a:eth1")
    writer = JournalWriter(journal)
    for index, outcome in ((1, "rebooted"), (2, "failed"), (3, "rebooted")):
        for event in attempt_events(bytes([2, 0, 0, 0, 0, index]), outcome):
            writer(event)
    table = BoardTable()
    web = WebView(str(free_tcp_port()), table, str(tmp_path / "j.sqlite3"), token="s3cret")
    web.start()
    yield web, table
    web.stop()


def test_page_assets_and_the_token(view):
    web, _ = view
    port = web.server.server_address[1]
    assert get(port, "/")[0] == 401
    status, headers, body = get(port, "/?token=s3cret")
    assert status == 200 and b"<title>nitools station</title>" in body
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    for asset in ("app.js", "style.css"):  # the browser asks without the page's ?token=
        assert get(port, f"/static/{asset}")[0] == 200
    assert get(port, "/static/../journal", {"Authorization": "Bearer s3cret"})[0] == 404
    assert get(port, "/api/boards", {"Authorization": "Bearer wrong"})[0] == 401
    assert get(port, "/api/boards?token=s3cret", method="POST")[0] == 405
    page = get(port, "/?token=s3cret")[2].decode()
    assert "http://" not in page.replace("http://www.w3.org", "")  # no external assets


def test_the_token_in_a_url_never_reaches_the_log(view, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="nitools.web")
    web, _ = view
    port = web.server.server_address[1]
    assert get(port, "/api/boards?token=s3cret&x=1")[0] == 200
    deadline = time.monotonic() + 5
    while "GET /api/boards" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)  # the server thread logs after it answered
    assert "token=***&x=1" in caplog.text and "s3cret" not in caplog.text


def test_history_api_filters(view):
    web, _ = view
    port = web.server.server_address[1]
    answer = json.loads(get(port, "/api/history?token=s3cret&outcome=rebooted")[2])
    assert [a["answered_mac"] for a in answer["attempts"]] == ["02:00:00:00:00:01",
                                                               "02:00:00:00:00:03"]
    answer = json.loads(get(port, "/api/history?token=s3cret&mac=020000000002")[2])
    assert [a["outcome"] for a in answer["attempts"]] == ["failed"]
    status, _, body = get(port, "/api/history?token=s3cret&since=yesterday-ish")
    assert status == 400 and "--since" in json.loads(body)["error"]


def test_the_event_stream_sends_each_change(view):
    web, table = view
    port = web.server.server_address[1]
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /events?token=s3cret HTTP/1.1\r\nHost: x\r\n\r\n")
    received = b""
    mac = bytes([2, 0, 0, 0, 0, 9])
    for event in attempt_events(mac)[:3]:
        table(event)
    table(events.UploadStarted(1.0, mac, 1000))
    table(events.Progress(2.0, mac, 500, 1000))
    deadline = time.monotonic() + 5
    while b'"done": 500' not in received and time.monotonic() < deadline:
        received += sock.recv(65536)
    sock.close()
    assert b"text/event-stream" in received and b"event: boards" in received
    last = received.rsplit(b"data: ", 1)[1].split(b"\n\n")[0]
    (board,) = json.loads(last)
    assert (board["mac"], board["phase"], board["done"], board["total"]) == (
        "02:00:00:00:00:09", "uploading", 500, 1000)
    assert board["rate"] == 500.0 and board["eta"] == 1.0


def test_a_non_local_address_needs_a_token():
    with pytest.raises(UsageError, match="give --web-token"):
        WebView(f"0.0.0.0:{free_tcp_port()}", BoardTable(), None)


def test_flash_serves_the_view_while_it_flashes(tmp_path):
    import os
    import subprocess
    import sys

    from nitools.emulation.synthetic import build_npk
    from tests.helpers import REPO, STATE_HOME

    port = free_tcp_port()
    (tmp_path / "r.npk").write_bytes(build_npk("system", "7.16.1", "arm64", size=2_000_000,
                                               seed=3))
    seen: list[dict] = []
    # 1 ms per chunk: an upload of about 1.5 s, long enough to be seen uploading
    with loopback_boards(faults=Faults(chunk_delay=0.001)) as boards:
        process = subprocess.Popen(
            [sys.executable, "-m", "nitools", "flash", "-m", "--plain", "--loopback",
             boards.loopback_arg, "--web", str(port), "--web-token", "t0ken", "--journal",
             str(tmp_path / "j.sqlite3"), str(tmp_path / "r.npk")], stderr=subprocess.PIPE,
            text=True, env=dict(os.environ, PYTHONPATH=str(REPO), XDG_STATE_HOME=STATE_HOME))
        try:
            deadline = time.monotonic() + 30
            while not (seen and seen[-1]["phase"] == "rebooted") and \
                    time.monotonic() < deadline:
                try:
                    board_list = json.loads(get(port, "/api/boards", {
                        "Authorization": "Bearer t0ken"})[2])["boards"]
                except OSError:
                    board_list = []
                seen += board_list[:1]
                time.sleep(0.02)
        finally:
            process.terminate()
            _, log = process.communicate(timeout=30)
    assert process.returncode == 0, log
    assert f"web view at http://127.0.0.1:{port}/ (token required)" in log
    phases = [board["phase"] for board in seen]
    assert phases[-1] == "rebooted" and "uploading" in phases, phases


def test_without_a_token_the_view_answers_to_its_own_name_only(tmp_path):
    """Issue 27 row 13: the loopback view with no token answered any Host, so a page of
    another site could read it by DNS rebinding."""
    web = WebView(str(free_tcp_port()), BoardTable(), None)
    web.start()
    try:
        port = web.server.server_address[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
            assert get(port, "/static/app.js", {"Host": host})[0] == 200, host
        for host in (f"evil.example:{port}", "127.0.0.1.evil.example", ""):
            assert get(port, "/static/app.js", {"Host": host})[0] == 421, host
    finally:
        web.stop()
