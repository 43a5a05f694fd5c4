"""Conformance with MikroTik's real device-side client (tests/fixtures/captures).

Replaying the real board's frames against our flasher's session must give the
answers the captured peer gave; replaying the captured peer's frames against our
emulated board must give the answers the real board gave. The one intended
difference: the captured peer answered WTRM with an empty frame (which hangs a
real board); our flasher answers it with TERM.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from nitools.netinstall import messages
from nitools.netinstall.device import DeviceProfile, DeviceSession, DeviceState
from nitools.netinstall.frame import Frame, decode
from nitools.netinstall.server import InstallFile, Phase, ServerSession
from tests.helpers import REPO

CAPTURES = REPO / "tests" / "fixtures" / "captures"
SESSIONS = ["session_arm64_boot_7.11.2.hex", "session_arm_boot_7.9.2.hex",
            "session_mips_boot_6.48.hex", "session_mmips_boot_6.42.5.hex",
            "session_keep_arm64_boot_7.11.2.hex"]
BAD_KEY = "session_badkey_arm64_boot_7.11.2.hex"


@dataclass(frozen=True)
class Line:
    at: float
    from_board: bool
    frame: Frame


def load(name: str) -> list[Line]:
    lines = []
    for text in (CAPTURES / name).read_text().splitlines():
        fields = text.split("#")[0].split()
        if fields:
            at, arrow, data = fields
            lines.append(Line(float(at), arrow == "<-", decode(bytes.fromhex(data))))
    return lines


def what_the_peer_sent(lines: list[Line]) -> tuple[messages.Offer, list[InstallFile]]:
    """The offer and the files in the captured peer's frames, as the board read them."""
    peer = [line.frame for line in lines if not line.from_board]
    offer = messages.parse_offer(peer[0].payload)
    assert offer is not None
    files: list[InstallFile] = []
    name, data = None, bytearray()
    for frame in peer[3:]:  # after OFFR, format and start
        if name is None:
            header = messages.parse_file_header(frame.payload)
            if header is None:
                break  # the end of the file list
            name, data = header.name, bytearray()
        elif frame.payload:
            data += frame.payload
        else:
            files.append(InstallFile(name, bytes(data)))
            name = None
    return offer, files


def same_meaning(ours: Frame, theirs: Frame) -> bool:
    """Equal on the wire, or read the same way by the board (§3.2, §3.10)."""
    if (ours.src, ours.dst, ours.seq, ours.ack) != (theirs.src, theirs.dst, theirs.seq,
                                                     theirs.ack):
        return False
    if bytes(ours.payload) == theirs.payload:
        return True
    if ours.payload.startswith(messages.OFFR):  # one of several valid forms of the offer
        return messages.parse_offer(bytes(ours.payload)) == messages.parse_offer(theirs.payload)
    # A FILE header with or without a trailing NUL; and the end of the file list, where
    # anything that is not a FILE header reads as "no more files".
    if bytes(ours.payload).startswith(messages.FILE):
        return messages.parse_file_header(bytes(ours.payload)) == \
            messages.parse_file_header(theirs.payload)
    return False


def answers_after(lines: list[Line], index: int) -> list[Frame]:
    """The peer's frames that follow line ``index`` before the board speaks again."""
    out = []
    for line in lines[index + 1:]:
        if line.from_board:
            break
        out.append(line.frame)
    return out


@pytest.mark.parametrize("name", SESSIONS)
def test_our_flasher_answers_the_real_board_as_the_captured_peer_did(name):
    lines = load(name)
    board_mac = lines[0].frame.src
    peer_mac = lines[1].frame.src
    offer, files = what_the_peer_sent(lines)
    session = ServerSession(peer_mac, board_mac, files, key=offer.key, keep=offer.keep,
                            window=1)
    (ours,) = session.start(lines[0].at)
    assert same_meaning(ours, answers_after(lines, 0)[0])
    for index, line in enumerate(lines[1:], start=1):
        if not line.from_board:
            continue
        ours_now = session.receive(line.frame, line.at)
        theirs = answers_after(lines, index)
        if line.frame.payload == messages.WTRM:
            # The captured peer's empty answer hangs a real board; ours is TERM.
            assert [(f.seq, f.ack, bytes(f.payload)) for f in ours_now] == [
                (line.frame.ack + 1, line.frame.seq, messages.TERM)]
            assert [t.payload for t in theirs] == [b""]
            continue
        assert len(ours_now) == len(theirs), (line, ours_now, theirs)
        for mine, peers in zip(ours_now, theirs, strict=True):
            assert same_meaning(mine, peers), (mine, peers)
    assert session.phase is Phase.REBOOTING
    assert session.bytes_acked == sum(len(f.data) for f in files)


def test_our_flasher_reports_the_real_boards_nack():
    lines = load(BAD_KEY)
    offer, _ = what_the_peer_sent(lines)
    session = ServerSession(lines[1].frame.src, lines[0].frame.src,
                            [InstallFile("a.npk", b"x")], key=offer.key, window=1)
    session.start(lines[0].at)
    nack = lines[2].frame
    assert nack.payload == messages.NACK
    assert session.receive(nack, lines[2].at) == []
    assert session.phase is Phase.FAILED and "NACK" in (session.failure or "")


def replay_to_our_board(lines: list[Line]) -> DeviceSession:
    """Feed the peer's frames to our emulated board; every frame it sends, at once or
    from its timers, must be the real board's frame at that point."""
    first = lines[0].frame
    board = DeviceSession([first.src], DeviceProfile(messages.parse_dscv(first.payload)))
    ((_, announcement),) = board.poll(lines[0].at)
    assert announcement == first
    pending: list[Frame] = []
    for line in lines[1:]:
        if not line.from_board:
            assert not pending, f"the real board sent {pending} before {line}"
            pending = [frame for _, frame in board.receive(0, line.frame, 5000, line.at)]
            continue
        if not pending:  # the real board sent this from a timer
            pending = [frame for _, frame in board.poll(line.at)]
        assert pending, f"our board stayed silent where the real one sent {line}"
        assert pending.pop(0) == line.frame
    assert not pending
    return board


@pytest.mark.parametrize("name", SESSIONS)
def test_our_board_answers_the_captured_peer_as_the_real_board_did(name):
    lines = load(name)
    board = replay_to_our_board(lines)
    # The peer's empty answer to WTRM hung the real board, and hangs ours.
    assert board.state is DeviceState.HUNG
    _, files = what_the_peer_sent(lines)
    assert [(f.name, bytes(f.data)) for f in board.files] == [(f.name, f.data) for f in files]


@pytest.mark.parametrize("name", SESSIONS)
def test_our_board_reboots_on_the_term_the_captured_peer_should_have_sent(name):
    lines = load(name)
    board = replay_to_our_board(lines[:-1])  # up to the board's WTRM
    wtrm = lines[-2].frame
    assert wtrm.payload == messages.WTRM and board.state is DeviceState.WAITING_TERM
    term = Frame(wtrm.dst, wtrm.src, wtrm.ack + 1, wtrm.seq, messages.TERM)
    assert board.receive(0, term, 5000, lines[-1].at) == []
    assert board.state is DeviceState.REBOOTED


def test_our_board_rejects_a_bad_key_and_announces_it_as_the_real_board_did():
    board = replay_to_our_board(load(BAD_KEY))
    assert board.state is DeviceState.DISCOVERING
    assert board.announcement.key == "NOT-A-VALID-KEY"
