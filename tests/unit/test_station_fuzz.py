"""Hostile or malformed datagrams never crash the station, nor touch another board's
session (hypothesis drives the receive path)."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nitools.netinstall.board import DeviceInfo
from nitools.netinstall.frame import Frame, FrameError, decode, encode
from nitools.netinstall.messages import Announcement, build_dscv
from nitools.netinstall.server import Phase, Timing
from nitools.netinstall.station import Station, StationOptions
from nitools.synthetic import build_npk

SERVER = bytes.fromhex("02aaaaaaaaaa")
BOARD = bytes.fromhex("024e49000001")
PACKAGE = build_npk(size=20_000)


class MemoryLink:
    """The link's filtering (decode, own echoes), with datagrams from a list."""

    mac = SERVER

    def __init__(self) -> None:
        self.inbox: list[bytes] = []
        self.sent: list[bytes] = []

    def fileno(self) -> int:
        raise NotImplementedError

    def send(self, datagram: bytes) -> None:
        self.sent.append(datagram)

    def receive_frames(self) -> list[Frame]:
        frames = []
        for data in self.inbox:
            try:
                frame = decode(data)
            except FrameError:
                continue
            if frame.src != self.mac:
                frames.append(frame)
        self.inbox = []
        return frames


class Plugin:
    def get_files(self, info: DeviceInfo):
        return PACKAGE, None


class Quiet:
    def event(self, *args) -> None:
        pass

    def tick(self, *args) -> None:
        pass


def station_with_a_board_uploading() -> tuple[Station, MemoryLink]:
    link = MemoryLink()
    # A long stall timeout: the board under attack must not time out while hypothesis runs.
    options = StationOptions(timing=Timing(stall_timeout=3600))
    station = Station(link, Plugin(), options, Quiet())
    announcement = Announcement("ABCD-EFGH", "", "RB5009", "arm64", "7.12", "7.16.1")
    link.inbox.append(encode(BOARD, bytes(6), 1, 0, build_dscv(announcement)))
    deliver(station, link)
    deadline = time.monotonic() + 10
    while station._preparing and time.monotonic() < deadline:
        time.sleep(0.01)
        station._collect_preparations(time.monotonic())
    session = station.boards[BOARD].session
    assert session is not None
    for seq, payload in ((1, b"YACK\n"), (2, b"STRT")):
        link.inbox.append(encode(BOARD, SERVER, seq, seq, payload))
        deliver(station, link)
    assert session.phase is Phase.UPLOADING
    return station, link


def deliver(station: Station, link: MemoryLink) -> None:
    now = time.monotonic()
    for frame in link.receive_frames():
        station._on_frame(frame, now)


STATION, LINK = station_with_a_board_uploading()
macs = st.one_of(st.binary(min_size=6, max_size=6), st.sampled_from([SERVER, bytes(6)]))
payloads = st.one_of(st.binary(max_size=300), st.sampled_from(
    [b"DSCV\n", b"DSCV\n\n\n\n\n\n\0", b"RETR", b"WTRM", b"YACK\n", b"NACK\n", b"STRT",
     b"DSCV\nX\nK\nM\narm\nbad-version\n\0", b"\xff" * 40]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.binary(max_size=120),  # any bytes at all
    st.builds(encode, macs, macs, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), payloads),
), max_size=12))
def test_garbage_never_crashes_or_touches_another_boards_session(datagrams):
    session = STATION.boards[BOARD].session
    before = (session.phase, session.acked, session.frames_sent)
    LINK.inbox.extend(d for d in datagrams if d[:6] != BOARD)  # everything not from the board
    deliver(STATION, LINK)
    STATION._run_timers(time.monotonic())
    assert STATION.boards[BOARD].session is session
    assert (session.phase, session.acked) == before[:2]
    # New "boards" may have appeared from forged announcements; they are only prepared.
    for mac, board in STATION.boards.items():
        if mac != BOARD:
            assert board.session is None or board.session.phase is Phase.OFFERING


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=20, max_size=200))
def test_malformed_frames_from_the_board_itself_are_dropped(data):
    session = STATION.boards[BOARD].session
    acked = session.acked
    broken = BOARD + data[6:]
    if len(broken) >= 20:
        declared = int.from_bytes(broken[14:16], "little")
        if declared == len(broken) - 20:  # would be well formed: make it not
            broken = broken + b"x"
    LINK.inbox.append(broken)
    deliver(STATION, LINK)
    assert session.acked == acked and session.phase is Phase.UPLOADING
