"""Hostile or malformed datagrams never crash the station, nor touch another board's
session (hypothesis drives the receive path)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nitools.emulation.synthetic import build_npk
from nitools.netinstall.frame import encode
from nitools.netinstall.messages import Announcement, build_dscv
from nitools.netinstall.server import Phase, Timing
from nitools.station.engine.core import StationCore
from nitools.station.engine.settings import EngineSettings
from nitools.station.plan.ini import InstallDefaults
from nitools.station.plan.payload import PayloadCache
from nitools.station.plan.prepare import prepare_or_refuse
from nitools.wire.link import MemoryNetwork
from nitools.wire.runner import InlineExecutor, Runner, VirtualClock

SERVER = bytes.fromhex("02aaaaaaaaaa")
BOARD = bytes.fromhex("024e49000001")
PACKAGE = build_npk(size=20_000)
PORT = 5000


class Plugin:
    def get_files(self, info):
        return PACKAGE, None


def station_with_a_board_uploading() -> tuple[StationCore, Runner, VirtualClock]:
    clock = VirtualClock()
    # A long stall timeout: the board under attack must not time out while hypothesis runs.
    config = EngineSettings(timing=Timing(stall_timeout=3600))
    core = StationCore(SERVER, config)
    cache = PayloadCache()
    runner = Runner(MemoryNetwork(clock).link(SERVER), core, clock=clock,
                    executor=InlineExecutor(), source_port=PORT,
                    work=lambda request: prepare_or_refuse(Plugin(), request,
                                                           InstallDefaults(), cache))
    announcement = Announcement("ABCD-EFGH", "", "RB5009", "arm64", "7.12", "7.16.1")
    runner.step(clock(), [(encode(BOARD, bytes(6), 1, 0, build_dscv(announcement)), PORT, None)])
    runner.step(clock(), [])  # the prepared files arrive; the offer goes out
    session = core.boards[BOARD].session
    assert session is not None
    for seq, payload in ((1, b"YACK\n"), (2, b"STRT")):
        runner.step(clock(), [(encode(BOARD, SERVER, seq, seq, payload), PORT, None)])
    assert session.phase is Phase.UPLOADING
    return core, runner, clock


def deliver(datagrams: list[bytes]) -> None:
    CLOCK.now += 0.001
    RUNNER.step(CLOCK(), [(d, PORT, None) for d in datagrams])
    RUNNER.step(CLOCK(), [])  # forged boards' files are prepared (and maybe offered)


CORE, RUNNER, CLOCK = station_with_a_board_uploading()
macs = st.one_of(st.binary(min_size=6, max_size=6), st.sampled_from([SERVER, bytes(6)]))
hostile_text = st.one_of(st.text(max_size=40), st.sampled_from(
    ["[/x]", "[bold]", "\x1b]0;owned\x07", "\u202e", "K" * 600, "", "\0"]))
forged_dscv = st.builds(
    lambda *fields: b"DSCV\n" + b"".join(f.encode("utf-8", "replace") + b"\n" for f in fields)
    + b"\0", hostile_text, hostile_text, hostile_text,
    st.sampled_from(["arm64", "arm", "", "sparc64", "[/x]"]), hostile_text, hostile_text)
payloads = st.one_of(st.binary(max_size=300), forged_dscv, st.sampled_from(
    [b"DSCV\n", b"DSCV\n\n\n\n\n\n\0", b"RETR", b"WTRM", b"YACK\n", b"NACK\n", b"STRT",
     b"DSCV\nX\nK\nM\narm\nbad-version\n\0", b"\xff" * 40]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.binary(max_size=120),  # any bytes at all
    st.builds(encode, macs, macs, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), payloads),
), max_size=12))
def test_garbage_never_crashes_or_touches_another_boards_session(datagrams):
    session = CORE.boards[BOARD].session
    before = (session.phase, session.acked)
    deliver([d for d in datagrams if d[:6] != BOARD])  # everything not from the board
    assert CORE.boards[BOARD].session is session
    assert (session.phase, session.acked) == before
    # New "boards" may have appeared from forged announcements; they are at most offered.
    for mac, board in CORE.boards.items():
        if mac != BOARD:
            assert board.session is None or board.session.phase is Phase.OFFERING


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=20, max_size=200))
def test_malformed_frames_from_the_board_itself_are_dropped(data):
    session = CORE.boards[BOARD].session
    acked = session.acked
    broken = BOARD + data[6:]
    if len(broken) >= 20:
        declared = int.from_bytes(broken[14:16], "little")
        if declared == len(broken) - 20:  # would be well formed: make it not
            broken = broken + b"x"
    malformed = RUNNER.malformed
    deliver([broken])
    assert session.acked == acked and session.phase is Phase.UPLOADING
    assert RUNNER.malformed == malformed + 1


def test_an_announcement_with_an_oversized_key_is_refused_not_fatal():
    core, runner, clock = station_with_a_board_uploading()
    forged = Announcement("WXYZ-0000", "K" * 600, "RB", "arm64", "7.12", "7.16.1")
    attacker = bytes.fromhex("02ffffffff01")
    events = []
    runner.on_event = events.append
    runner.step(clock(), [(encode(attacker, bytes(6), 1, 0, build_dscv(forged)), PORT, None)])
    runner.step(clock(), [])
    assert attacker not in core.boards
    (finished,) = [e for e in events if type(e).__name__ == "Finished"]
    assert finished.outcome.value == "refused" and "licence key" in finished.reason
    assert core.boards[BOARD].session.phase is Phase.UPLOADING
