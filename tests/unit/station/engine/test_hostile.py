"""Hostile input never stops the station: forged frames, markup and control characters,
floods, special files, plugins that exit, failing sends, stops before the work is done."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from nitools.console import cell, clean
from nitools.emulation.synthetic import build_npk
from nitools.errors import LinkError, SourceError
from nitools.netinstall import events
from nitools.netinstall.frame import Frame, encode
from nitools.netinstall.messages import Announcement, build_dscv
from nitools.routeros.validate import BoardFacts, check_install, errors
from nitools.station.engine.admission import SEEN
from nitools.station.engine.contract import Refusal
from nitools.station.engine.core import StationCore
from nitools.station.engine.settings import EngineSettings
from nitools.station.plan.ini import InstallDefaults
from nitools.station.plan.payload import PayloadCache, resolve
from nitools.station.plan.prepare import prepare_or_refuse
from nitools.wire.link import LoopbackLink, local_admin_mac
from tests.helpers import REPO, STATE_HOME, board_request, free_udp_port, run_cli

SERVER = bytes.fromhex("02aaaaaaaaaa")
MARKUP = "[/x]\x1b]0;owned\x07[bold]"


def dscv(mac: bytes, model: str = "RB5009", arch: str = "arm64", software_id: str = "",
         key: str = "") -> object:
    from nitools.netinstall.frame import decode
    return decode(encode(mac, bytes(6), 1, 0, build_dscv(
        Announcement(software_id, key, model, arch, "7.12", "7.16.1"))))


# ------------------------------------------------------------- text, markup


def test_control_characters_are_made_visible_and_markup_stays_text():
    assert clean("a\x1b]0;t\x07b\u202e") == "a\\x1b]0;t\\x07b\\u202e".replace("\\u202e",
                                                                           "\\x202e")
    assert cell(MARKUP).plain == clean(MARKUP)  # a Text: rich never parses it


def test_the_live_table_survives_a_board_named_like_markup():
    from rich.console import Console

    from nitools.monitor.ui import RichReporter

    reporter = RichReporter()
    reporter.console = Console(file=open(os.devnull, "w"), force_terminal=True)  # noqa: SIM115
    mac = bytes.fromhex("024e49000001")
    announcement = Announcement("X", "", MARKUP, MARKUP, "7.12", "7.16.1")
    reporter.event(events.Found(0.0, mac, announcement))
    reporter.event(events.Finished(1.0, mac, events.Outcome.FAILED, MARKUP))
    rendered = Console(record=True, width=200, file=open(os.devnull, "w"))  # noqa: SIM115
    rendered.print(reporter._table())
    text = rendered.export_text()
    assert "[/x]" in text and "\x1b" not in text
    reporter.close()


def test_history_info_and_validate_print_markup_from_files_as_text(tmp_path):
    from nitools.journal.attempts import AttemptRow, Journal

    journal = Journal(tmp_path / "j.sqlite3")
    row = journal.insert(AttemptRow.of_board(
        1.0e9, "02:4e:49:00:00:01", Announcement("X", "", MARKUP, "arm64", "7.12", "7.16.1")))
    journal.finish(row, "failed", MARKUP, None, 0)
    journal.close()
    history = run_cli("history", "--journal", str(tmp_path / "j.sqlite3"))
    assert history.returncode == 0, history.stderr
    assert "[/x]" in history.stdout and "\x1b" not in history.stdout
    package = tmp_path / "odd.npk"
    package.write_bytes(build_npk("[/x]", "7.16.1", "[/x]", size=2000))
    info = run_cli("info", str(package))
    assert info.returncode == 0 and "[/x]" in info.stdout, info.stderr
    validate = run_cli("validate", "--arch", "[/x]", str(package))
    assert validate.returncode == 1 and "Traceback" not in validate.stderr, validate.stderr


# ---------------------------------------------------------- board refusals


@pytest.mark.parametrize("arch", ["", "sparc64", "[/x]"])
def test_a_board_with_no_or_an_unknown_architecture_is_refused(arch):
    from nitools.routeros.npk import read_package

    package = read_package(build_npk("system", "7.16.1", "arm64", size=2000))
    findings = check_install([("routeros.npk", package)], BoardFacts(arch, "7.12"))
    assert errors(findings), findings


@pytest.mark.parametrize(("raise_it", "said"), [
    (lambda: sys.exit(3), "sys.exit(3)"),
    (lambda: (_ for _ in ()).throw(KeyboardInterrupt), "raised KeyboardInterrupt"),
    (lambda: (_ for _ in ()).throw(GeneratorExit), "raised GeneratorExit"),
])
def test_a_plugin_that_exits_or_interrupts_refuses_that_board_only(raise_it, said):
    class Exiting:
        def get_files(self, info):
            raise_it()

    result = prepare_or_refuse(Exiting(), board_request(bytes(6), model="RB"),
                               InstallDefaults(), PayloadCache())
    assert isinstance(result, Refusal) and said in result.reason


def test_special_files_are_refused_before_a_byte_is_read(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        with pytest.raises(SourceError, match="not a regular file"):
            resolve(str(path))


# ------------------------------------------------------------------ floods


def test_one_off_forged_announcements_never_cost_a_preparation():
    core = StationCore(SERVER, EngineSettings())
    real = bytes.fromhex("024e49000001")
    prepared = []
    now = 0.0
    for second in range(5):
        for index in range(2000):  # 2000 new MACs a second, each announcing once
            mac = bytes([0x02, 0xEE, second, index >> 8, index & 0xFF, 1])
            core.receive(dscv(mac, software_id=f"F{second}-{index}"), now)
        core.receive(dscv(real, software_id="REAL-0001"), now)  # every second, as boards do
        for request in core.take_requests():  # preparations finish (the fakes are refused)
            prepared.append(request.mac)
            if request.mac != real:
                core.prepared(request.mac, Refusal("forged"), now)
        now += 1.0
    assert real in prepared  # taken on a repeat announcement, despite the flood
    forged = [mac for mac in prepared if mac != real]
    assert len(forged) <= EngineSettings().flood_rate  # only before the flood was recognised
    assert len(core.admission._seen) <= SEEN


def test_boards_being_prepared_are_capped():
    config = EngineSettings(max_preparing=4)
    core = StationCore(SERVER, config)
    for index in range(20):
        core.receive(dscv(bytes([2, 0, 0, 0, 0, index + 1]), software_id=f"ID{index}"), 0.0)
    assert len(core.take_requests()) == 4
    assert core.result.ignored_announcements == 16


def test_one_software_id_on_thousands_of_macs_merges_into_a_bounded_board():
    core = StationCore(SERVER, EngineSettings())
    for index in range(3000):
        core.receive(dscv(bytes([2, 1, 0, 0, index >> 8, index & 0xFF]), software_id="SAME"),
                     index * 0.001)
    # Nobody answered: nobody owns the ID, and the boards taken on are bounded by the caps.
    assert len(core.boards) <= EngineSettings().max_preparing
    assert core._by_software_id == {}


# ------------------------------------------------------------- link faults


class _RefusingSocket:
    """A socket whose every send is refused, as a firewall rule in the output hook does."""

    def sendto(self, datagram, peer):
        raise PermissionError(1, "Operation not permitted")

    def getsockname(self):
        return ("127.0.0.1", 1)

    def close(self):
        pass


def test_a_refused_send_is_a_lost_frame_until_it_persists():
    clock = [0.0]
    link = LoopbackLink(0, free_udp_port(), local_admin_mac(1))
    real = link.sock
    link.sock, link.clock = _RefusingSocket(), lambda: clock[0]
    link.send(b"frame")  # the first failure: one lost frame, the station goes on
    clock[0] = 4.0
    link.send(b"frame")
    clock[0] = 5.5
    with pytest.raises(LinkError, match="firewall"):
        link.send(b"frame")
    real.close()


# ------------------------------------------------------------- exit codes


def test_one_shot_stopped_before_any_board_finished_exits_130(tmp_path):
    package = tmp_path / "r.npk"
    package.write_bytes(build_npk(size=2000))
    ini = tmp_path / "s.ini"
    ini.write_text(f"[nitools]\nfirmware={package}\n")
    ports = f"{free_udp_port()}:{free_udp_port()}"
    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_STATE_HOME=STATE_HOME)
    process = subprocess.Popen([sys.executable, "-m", "nitools", "flash", "-1", "--plain",
                                "--loopback", ports, "-c", str(ini)], env=env,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=30)
    assert process.returncode == 130, log
    assert "stopped before" in log


def test_loopback_sockets_stay_on_loopback():
    link = LoopbackLink(0, free_udp_port(), local_admin_mac(2))
    assert link.sock.getsockname()[0] == "127.0.0.1"
    assert link.sock.family == socket.AF_INET
    link.close()


def test_extract_prints_a_resource_named_like_markup_as_text(tmp_path):
    from tests.pe_writer import build_exe

    exe = tmp_path / "netinstall64-7.16.1.exe"
    exe.write_bytes(build_exe({"[/X]X": b"\x7fELF" + bytes(60)}))
    result = run_cli("extract", "--list", str(exe))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1), result.stderr


# ------------------------------------------------------------------ forged WTRM


def wtrm(mac: bytes, seq: int = 7) -> Frame:
    return Frame(mac, SERVER, seq, seq, b"WTRM")


def test_a_forged_wtrm_never_keeps_a_board_from_being_offered():
    core = StationCore(SERVER, EngineSettings())
    board = bytes.fromhex("024e49000042")
    (term,) = core.receive(wtrm(board), 0.0)  # in its name, before it ever announced
    assert term.payload.startswith(b"TERM") and term.dst == board
    assert [type(e).__name__ for e in core.take_events()] == ["Released"]
    core.receive(dscv(board, software_id="REAL-0042"), 5.0)
    assert [r.mac for r in core.take_requests()] == [board]  # offered like any board


def test_a_wtrm_from_a_mac_that_announces_itself_is_not_answered():
    core = StationCore(SERVER, EngineSettings())
    board = bytes.fromhex("024e49000043")
    core.receive(dscv(board, software_id="REAL-0043"), 0.0)
    core.take_events()
    assert core.receive(wtrm(board), 1.0) == []  # a board that announces waits for no TERM
    assert not any(isinstance(e, events.Released) for e in core.take_events())


def test_a_steady_board_is_taken_at_once_under_a_flood_of_doubled_announcements():
    """Issue 27 row 5: 10,000 new MACs a second, each announced twice in a row, kept a real
    board from being found for as long as the flood lasted (a repeat was enough)."""
    core = StationCore(SERVER, EngineSettings())
    real = bytes.fromhex("024e49000001")
    prepared: list[bytes] = []
    now = 0.0
    found_at = None
    for tick in range(50):  # 5 s in steps of 0.1 s
        for index in range(1000):  # 10,000 new MACs a second, each sent twice at once
            mac = bytes([0x06, tick, index >> 8, index & 0xFF, 0, 1])
            for _ in range(2):
                core.receive(dscv(mac, software_id=f"F{tick}-{index}"), now)
        if tick % 10 == 0:  # the real board: once a second
            core.receive(dscv(real, software_id="REAL-0001"), now)
        for request in core.take_requests():
            prepared.append(request.mac)
            if request.mac == real and found_at is None:
                found_at = now
            elif request.mac != real:
                core.prepared(request.mac, Refusal("forged"), now)
        now += 0.1
    assert found_at is not None and found_at <= 1.5  # its second announcement
    forged = [mac for mac in prepared if mac != real]
    assert len(forged) <= EngineSettings().flood_rate  # only before the flood was recognised
