"""The emulated board follows the real client's rules (spec §2.3, §3, §5.1, §11)."""

import pytest

from nitools.netinstall import frame as wire
from nitools.netinstall.device import DeviceProfile, DeviceSession, DeviceState
from nitools.netinstall.frame import FrameError, encode
from nitools.netinstall.messages import Announcement, build_dscv

PORT0 = bytes.fromhex("024e49000001")
PORT1 = bytes.fromhex("024e49000002")
SERVER = bytes.fromhex("02aaaaaaaaaa")
KEY = "S2V5S2V5S2V5S2V5"
V7 = Announcement("ABCD-EFGH", KEY, "RB5009UG+S+", "arm64", "7.12", "7.16.1")


def decode(data):
    """A frame the board sent (or its datagram), as the flasher reads it."""
    return wire.decode(data if isinstance(data, bytes) else data.to_bytes())


def deliver(dev, port, datagram, source_port, now):
    """A datagram reaches the board as the runner hands it over: decoded, or never."""
    try:
        frame = wire.decode(datagram)
    except FrameError:
        return []
    return [(p, f.to_bytes()) for p, f in dev.receive(port, frame, source_port, now)]


def board(**profile):
    return DeviceSession([PORT0, PORT1], DeviceProfile(V7, **profile))


def to_board(seq, ack, payload, dst=PORT0, src=SERVER):
    return encode(src, dst, seq, ack, payload)


def offer(key=KEY, keep=False):
    return b"OFFR\n" + key.encode() + b"\n" + (b"keep" if keep else b"") + b"\n\n\0"


def accepted(dev, t=0.0):
    (_port, yack), = deliver(dev, 0, to_board(1, 0, offer()), 5000, t)
    assert decode(yack).payload == b"YACK\n"
    return dev


def run_timers(dev, while_true) -> tuple[float, int]:
    """Fire the board's timers while ``while_true(dev)``: (last time, frames it sent)."""
    t, sent = 0.0, 0
    while while_true(dev):
        t = dev.next_deadline()
        sent += len(dev.poll(t))
    return t, sent


def test_announces_on_every_port_each_second_with_seq_1_ack_0():
    dev = board()
    sent = dev.poll(0.0)
    assert [port for port, _ in sent] == [0, 1]
    for port, data in sent:
        frame = decode(data)
        assert frame.src == [PORT0, PORT1][port]
        assert (frame.dst, frame.seq, frame.ack) == (bytes(6), 1, 0)
        assert frame.payload == build_dscv(V7)
    assert dev.poll(0.5) == []
    assert len(dev.poll(1.0)) == 2


def test_offer_gets_yack_with_counters_1_1_to_the_server():
    dev = board()
    ((port, data),) = deliver(dev, 0, to_board(1, 0, offer()), 5000, 0.0)
    frame = decode(data)
    assert (port, frame.src, frame.dst, frame.seq, frame.ack) == (0, PORT0, SERVER, 1, 1)
    assert dev.state is DeviceState.OFFER_ANSWERED


@pytest.mark.parametrize(("seq", "ack"), [(0, 1), (1, 1), (2, 0)])
def test_offer_with_other_counters_is_ignored(seq, ack):
    dev = board()
    assert deliver(dev, 0, to_board(seq, ack, offer()), 5000, 0.0) == []
    assert dev.state is DeviceState.DISCOVERING


@pytest.mark.parametrize("datagram", [
    to_board(1, 0, offer(), dst=bytes(6)),  # all-zero recipient: discovery wants our MAC
    to_board(1, 0, offer(), dst=b"\xff" * 6),  # broadcast recipient is not accepted
    to_board(1, 0, offer(), dst=PORT1),  # another port's MAC on this port
    to_board(1, 0, offer(), src=PORT0),  # our own broadcast coming back
    to_board(1, 0, offer())[:-1],  # length field no longer matches
])
def test_acceptance_filter_drops(datagram):
    dev = board()
    assert deliver(dev, 0, datagram, 5000, 0.0) == []
    assert dev.state is DeviceState.DISCOVERING


def test_datagrams_from_a_source_port_other_than_5000_are_dropped():
    dev = board()
    assert deliver(dev, 0, to_board(1, 0, offer()), 59813, 0.0) == []
    assert deliver(dev, 0, to_board(1, 0, offer()), 5000, 0.0)


def test_offer_key_line_without_newline_is_ignored_without_using_seq_1():
    dev = board()
    assert deliver(dev, 0, to_board(1, 0, b"OFFR\n" + KEY.encode()), 5000, 0.0) == []
    assert deliver(dev, 0, to_board(1, 0, offer()), 5000, 0.1)


def test_wrong_key_gets_nack_and_the_rejected_key_is_announced_later():
    dev = board()
    ((_, data),) = deliver(dev, 0, to_board(1, 0, offer("V3JvbmdLZXk=")), 5000, 0.0)
    assert decode(data).payload == b"NACK\n"
    t, _ = run_timers(dev, lambda d: d.state is DeviceState.REJECTED)
    assert dev.state is DeviceState.DISCOVERING
    assert 5.0 <= t <= 6.1  # 1 s x 5 resends, then back to discovery
    announcement = decode(dev.poll(t + 1)[0][1]).payload
    assert b"\nV3JvbmdLZXk=\n" in announcement


def test_key_required_board_ignores_an_offer_without_key():
    dev = board(key_required=True)
    assert deliver(dev, 0, to_board(1, 0, offer("")), 5000, 0.0) == []
    assert deliver(dev, 0, to_board(1, 0, offer(KEY)), 5000, 0.0)


def test_empty_key_is_accepted_by_a_board_that_does_not_require_one():
    dev = board()
    assert deliver(dev, 0, to_board(1, 0, offer("")), 5000, 0.0)
    assert dev.installed_key is None


def test_keep_flag_is_taken_from_the_offer():
    dev = board()
    deliver(dev, 0, to_board(1, 0, offer(keep=True)), 5000, 0.0)
    assert dev.keep


def test_yack_is_resent_five_times_then_the_board_announces_again():
    dev = accepted(board())
    _, resends = run_timers(dev, lambda d: d.state is DeviceState.OFFER_ANSWERED)
    assert resends == 5
    assert dev.state is DeviceState.DISCOVERING


def test_after_an_accepted_offer_only_the_chosen_port_and_server_count():
    dev = accepted(board())
    other_server = bytes.fromhex("02cccccccccc")
    assert deliver(dev, 0, to_board(2, 1, b"", src=other_server), 5000, 0) == []
    assert deliver(dev, 1, to_board(2, 1, b"", dst=PORT1), 5000, 0) == []
    assert deliver(dev, 0, to_board(2, 2, b""), 5000, 0) == []  # ack beyond what it sent
    assert deliver(dev, 0, to_board(2, 1, b""), 5000, 0)  # format -> STRT at once


def test_format_takes_its_time_then_strt():
    dev = accepted(board(format_time=30.0))
    assert deliver(dev, 0, to_board(2, 1, b""), 5000, 0.0) == []
    assert dev.state is DeviceState.FORMATTING
    assert dev.poll(29.9) == []
    ((_, data),) = dev.poll(30.0)
    frame = decode(data)
    assert (frame.seq, frame.ack, frame.payload) == (2, 2, b"STRT")


def test_image_too_old_goes_silent_after_the_format_frame():
    dev = accepted(board(image_too_old=True))
    assert deliver(dev, 0, to_board(2, 1, b""), 5000, 0.0) == []
    assert dev.state is DeviceState.ABORTED
    assert dev.next_deadline() is None


def started(dev):
    accepted(dev)
    deliver(dev, 0, to_board(2, 1, b""), 5000, 0.0)
    ((_, retr),) = deliver(dev, 0, to_board(3, 2, b"ignored"), 5000, 0.0)
    assert decode(retr).payload == b"RETR"
    return dev


def test_strt_unanswered_aborts_as_server_refused():
    dev = accepted(board())
    deliver(dev, 0, to_board(2, 1, b""), 5000, 0.0)
    run_timers(dev, lambda d: not d.finished)
    assert "server refused" in dev.abort_reason


def test_silence_between_files_ends_the_file_list_after_about_6_s():
    dev = started(board())
    t, resends = run_timers(dev, lambda d: d.state is DeviceState.BETWEEN_FILES)
    assert dev.state is DeviceState.WAITING_TERM
    assert 5.9 <= t <= 6.1 and resends == 301  # 300 RETR resends, then the WTRM
    assert dev.skipped_remaining_files


def test_silence_inside_a_file_aborts_after_about_9_s():
    dev = started(board())
    deliver(dev, 0, to_board(4, 3, b"FILE\na.npk\n10\n"), 5000, 0.0)
    t, _ = run_timers(dev, lambda d: not d.finished)
    assert 8.9 <= t <= 9.1
    assert dev.abort_reason == "FATAL ERROR: bad network connection"


def test_file_data_end_of_file_and_wtrm_term():
    dev = started(board())
    seq = 4
    for payload in (b"FILE\nautorun.scr\n6\n", b"abc", b"def", b"", b"FILE\n"):
        ((_, data),) = deliver(dev, 0, to_board(seq, seq - 1, payload), 5000, 0.0)
        frame = decode(data)
        assert (frame.seq, frame.ack) == (seq, seq)
        seq += 1
    assert frame.payload == b"WTRM"
    assert [(f.name, bytes(f.data)) for f in dev.files] == [("autorun.scr", b"abcdef")]
    assert deliver(dev, 0, to_board(seq, seq - 1, b"TERM\n"), 5000, 0.0) == []
    assert dev.state is DeviceState.REBOOTED


def test_duplicates_are_dropped_silently_and_never_re_acked():
    dev = started(board())
    deliver(dev, 0, to_board(4, 3, b"FILE\na.npk\n3\n"), 5000, 0.0)
    assert deliver(dev, 0, to_board(5, 4, b"abc"), 5000, 0.0)
    assert deliver(dev, 0, to_board(5, 4, b"abc"), 5000, 0.0) == []
    assert deliver(dev, 0, to_board(7, 6, b"zzz"), 5000, 0.0) == []  # out of order
    assert bytes(dev.files[0].data) == b"abc"


def test_a_non_term_answer_to_wtrm_hangs_the_board():
    dev = started(board())
    deliver(dev, 0, to_board(4, 3, b"FILE\n"), 5000, 0.0)
    assert deliver(dev, 0, to_board(5, 4, b""), 5000, 0.0) == []
    assert dev.state is DeviceState.HUNG
    assert deliver(dev, 0, to_board(6, 5, b"TERM\n"), 5000, 0.0) == []
    assert dev.state is DeviceState.HUNG
    assert decode(dev.poll(10.0)[0][1]).payload == b"WTRM"  # keeps asking, forever


def test_sequence_counter_wrap_is_dropped_like_the_real_client():
    dev = started(board())
    dev.rx = 0xFFFF  # as if 65535 server frames had been accepted
    dev.tx = 0xFFFF
    assert deliver(dev, 0, to_board(0, 0xFFFF, b"FILE\n"), 5000, 0.0) == []
