"""The control socket: mode 0600 in a 0700 folder, who asked from the kernel, one station
per name, a crashed station's socket taken over, and answers from the engine's loop."""

from __future__ import annotations

import os
import socket
import stat
import threading

import pytest

from nitools.errors import UsageError
from nitools.monitor import control
from nitools.netinstall.frame import decode, encode, format_mac
from nitools.netinstall.messages import Announcement, build_dscv
from nitools.netinstall.server import InstallFile
from nitools.station.engine.contract import ConfigMode, InstallPlan
from nitools.station.engine.core import StationCore
from nitools.station.engine.settings import EngineSettings
from nitools.station.run import OperatorDesk
from tests.helpers import run_cli

STATION = bytes.fromhex("02aaaaaaaaaa")
HELD = bytes.fromhex("024e49000201")


@pytest.fixture
def folder(tmp_path, monkeypatch):
    where = tmp_path / "control"
    monkeypatch.setattr(control, "control_folder", lambda: where)
    return where


@pytest.fixture
def running(folder):
    """A station core holding one board, its desk served by a thread as the loop would."""
    core = StationCore(STATION, EngineSettings(hold=True))
    core.receive(decode(encode(HELD, bytes(6), 1, 0, build_dscv(
        Announcement("CTRL-0001", "", "RB5009", "arm64", "7.12", "7.16.1")))), 0.0)
    core.take_requests()
    core.prepared(HELD, InstallPlan([InstallFile("r.npk", b"x" * 100)], [],
                                    ConfigMode.DEFAULT, sources=["t"], digests=["-"]), 0.1)
    desk, stop, sent = OperatorDesk(), threading.Event(), []

    def loop():
        while not stop.wait(0.01):
            desk.serve(core, 1.0, sent.extend)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    server = control.ControlServer("line:1", desk)
    server.start()
    yield server, core, sent
    server.close()
    stop.set()
    thread.join()


def test_the_socket_is_the_owners_alone(running, folder):
    server, _, _ = running
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600
    assert server.path.name == "line_1.sock"  # a station name is made a file name


def test_an_action_is_carried_out_by_the_loop_and_says_who_asked(running):
    server, core, sent = running
    answer = control.ask(server.path, {"action": "approve", "macs": [format_mac(HELD)]})
    (result,) = answer["results"]
    assert (result["verdict"], result["phase"]) == ("done", "offering")
    assert sent  # the offer went out through the loop's send
    acted = [e for e in core.take_events() if type(e).__name__ == "OperatorActed"]
    assert acted[0].by == f"socket uid {os.geteuid()} pid {os.getpid()}"
    listed = control.ask(server.path, {"action": "boards"})["boards"]
    assert [(b["mac"], b["phase"]) for b in listed] == [(format_mac(HELD), "offering")]


def test_unknown_boards_and_bad_requests_get_clear_answers(running):
    server, _, _ = running
    (result,) = control.ask(server.path, {"action": "skip", "macs": ["02:00:00:00:00:09"]}
                            )["results"]
    assert result["verdict"] == "unknown"
    with pytest.raises(UsageError, match="is not a MAC address"):
        control.ask(server.path, {"action": "skip", "macs": ["nope"]})
    with pytest.raises(UsageError, match="unknown action 'explode'"):
        control.ask(server.path, {"action": "explode", "macs": []})


def test_a_second_station_of_a_name_answers_apart_and_a_dead_ones_socket_is_taken(
        running, folder, caplog):
    first, _, _ = running
    second = control.ControlServer("line:1", OperatorDesk())  # another namespace's, say
    try:
        assert second.path.name == f"line_1-{os.getpid()}.sock" and first.path.exists()
        assert f"take --station-name line_1-{os.getpid()}" in caplog.text
    finally:
        second.close()
    stale = folder / "gone.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(stale))
    dead.close()  # a file nobody listens on: a station that crashed
    taken = control.ControlServer("gone", OperatorDesk())
    taken.close()
    assert not stale.exists()


def test_the_commands_say_in_one_line_when_no_station_runs(tmp_path):
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    for command in (("boards",), ("approve", "--all"), ("skip", "02:00:00:00:00:01")):
        result = run_cli(*command, env=env) if os.geteuid() != 0 else run_cli(
            *command, "--station-name", f"none-{os.getpid()}", env=env)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert "is it running?" in result.stderr or "no station runs here" in result.stderr
    result = run_cli("approve", env=env)
    assert result.returncode == 2 and "name the boards (MAC...), or --all" in result.stderr
    result = run_cli("skip", "02:00:00:00:00:01", "--station", "http://127.0.0.1:9", env=env)
    assert result.returncode == 2 and "needs --token" in result.stderr
