"""The flasher's session, driven by hand-made board frames (spec §2.2, §3, §4)."""

import pytest

from nitools.netinstall import frame as wire
from nitools.netinstall import messages
from nitools.netinstall.frame import Frame, encode
from nitools.netinstall.protocol import frame_count
from nitools.netinstall.server import InstallFile, Phase, ServerSession, Timing

SERVER = bytes.fromhex("02aaaaaaaaaa")
BOARD = bytes.fromhex("02bbbbbbbbbb")
KEY = "S2V5S2V5S2V5=="


def reply(seq, payload, ack=None, src=BOARD, dst=SERVER):
    return Frame(src, dst, seq, seq if ack is None else ack, payload)


def make(files=None, **kwargs):
    files = files if files is not None else [
        InstallFile("routeros-7.16.1-arm64.npk", bytes(range(256)) * 12),  # 3072 B: 3 chunks
        InstallFile("autorun.scr", b"/system identity set name=x\n"),
    ]
    kwargs.setdefault("window", 1)
    return ServerSession(SERVER, BOARD, files, key=KEY, **kwargs)


def decode(frame):
    """Through the wire format and back: what the board would read."""
    return wire.decode(frame.to_bytes())


def frames(datagrams):
    return [decode(d) for d in datagrams]


def test_full_exchange_follows_the_spec_sequence():
    session = make()
    t = 0.0
    (offer,) = frames(session.start(t))
    assert (offer.src, offer.dst, offer.seq, offer.ack) == (SERVER, BOARD, 1, 0)
    assert offer.payload == b"OFFR\n" + KEY.encode() + b"\n\n\n\0"

    (fmt,) = frames(session.receive(reply(1, b"YACK\n"), t))
    assert (fmt.seq, fmt.ack, fmt.payload) == (2, 1, b"")
    assert session.phase is Phase.FORMATTING

    (start,) = frames(session.receive(reply(2, b"STRT"), t))
    assert (start.seq, start.ack, start.payload) == (3, 2, b"")

    sent = []
    seq = 3
    while True:
        out = frames(session.receive(reply(seq, b"RETR"), t))
        if not out:
            break
        (frame,) = out
        assert (frame.seq, frame.ack) == (seq + 1, seq)
        sent.append(frame.payload)
        seq += 1
        if frame.payload == b"FILE\n":
            break
    package = bytes(range(256)) * 12
    assert sent == [
        b"FILE\nrouteros-7.16.1-arm64.npk\n3072\n",
        package[:1452], package[1452:2904], package[2904:],
        b"",  # end of file
        b"FILE\nautorun.scr\n28\n",
        b"/system identity set name=x\n",
        b"",
        b"FILE\n",  # no more files
    ]
    (term,) = frames(session.receive(reply(seq, b"WTRM"), t))
    assert (term.seq, term.ack, term.payload) == (seq + 1, seq, b"TERM\n")
    assert session.phase is Phase.REBOOTING
    assert session.bytes_acked == session.total_bytes == 3100
    session.poll(t + 2.4)
    assert session.phase is Phase.REBOOTING  # two WTRM intervals may pass without a repeat
    session.poll(t + 2.6)
    assert session.phase is Phase.DONE and "reboot confirmed" in session.end_detail
    assert [type(e).__name__ for e in session.take_events()] == [
        "Offered", "Accepted", "Formatting", "UploadStarted", "Progress", "FileStarted",
        "Progress", "FileStarted", "Progress", "FilesAcknowledged", "RebootSent"]


def test_frame_count_matches_the_session_plan():
    session = make()
    assert frame_count([len(f.data) for f in session.files]) == session.term_seq


def test_keep_flag_goes_into_the_offer():
    session = make(keep=True)
    (offer,) = frames(session.start(0))
    assert offer.payload == b"OFFR\n" + KEY.encode() + b"\nkeep\n\n\0"


def test_zero_length_script_is_sent_as_header_and_end_of_file():
    session = make([InstallFile("autorun.scr", b"")])
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    session.receive(reply(2, b"STRT"), 0)
    (header,) = frames(session.receive(reply(3, b"RETR"), 0))
    assert header.payload == b"FILE\nautorun.scr\n0\n"
    (eof,) = frames(session.receive(reply(4, b"RETR"), 0))
    assert eof.payload == b""
    (end,) = frames(session.receive(reply(5, b"RETR"), 0))
    assert end.payload == b"FILE\n"


def test_nack_fails_with_a_reason_about_the_key():
    session = make()
    session.start(0)
    assert session.receive(reply(1, b"NACK\n"), 0) == []
    assert session.phase is Phase.FAILED
    assert "licence key" in session.failure


def test_repeated_previous_reply_gets_the_identical_frame_again():
    session = make()
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    # Formatting: the format and start frames are offered again, slowly.
    assert [decode(d).seq for d in session.poll(0.5)] == [2, 3]
    # The board repeats YACK: it never saw the format frame.
    (again,) = session.receive(reply(1, b"YACK\n"), 1.0)
    assert decode(again) == Frame(SERVER, BOARD, 2, 1, b"")
    session.receive(reply(2, b"STRT"), 1.0)
    session.receive(reply(3, b"RETR"), 1.0)
    (chunk,) = session.receive(reply(4, b"RETR"), 1.0)
    (resent,) = session.receive(reply(4, b"RETR"), 1.1)  # stale RETR: chunk 5 was lost
    assert resent == chunk


def test_data_frame_is_resent_on_our_own_timer_unchanged():
    session = make(timing=Timing(min_rto=0.01, max_rto=0.05))
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    session.receive(reply(2, b"STRT"), 0)
    (header,) = session.receive(reply(3, b"RETR"), 0)
    deadline = session.next_deadline()
    assert 0 < deadline <= 0.05
    assert session.poll(deadline - 0.001) == []
    assert session.poll(deadline) == [header]
    assert session.retransmissions == 1


def test_while_formatting_only_the_format_and_start_frames_are_offered_slowly():
    session = make(timing=Timing(format_timeout=120, start_probe=0.25))
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    assert session.next_deadline() == 0.25
    for t in (0.5, 5.0, 60.0, 119.0):
        assert [decode(d) for d in session.poll(t)] == [Frame(SERVER, BOARD, 2, 1, b""),
                                                        Frame(SERVER, BOARD, 3, 2, b"")]
    assert session.phase is Phase.FORMATTING
    session.poll(120.0)
    assert session.phase is Phase.FAILED
    assert "120 s" in session.failure and "STRT" in session.failure


def test_an_answered_start_probe_counts_as_strt():
    # STRT was lost, but the board took a start-frame probe and asks for the first file.
    session = make()
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    session.poll(0.3)
    (header,) = frames(session.receive(reply(3, b"RETR"), 0.31))
    assert header.payload.startswith(b"FILE\nrouteros")
    assert session.phase is Phase.UPLOADING


def test_term_is_sent_twice():
    session = make([InstallFile("autorun.scr", b"x")])
    session.start(0)
    for seq, payload in ((1, b"YACK\n"), (2, b"STRT"), (3, b"RETR"), (4, b"RETR"),
                         (5, b"RETR"), (6, b"RETR")):
        session.receive(reply(seq, payload), 0)
    (term,) = session.receive(reply(7, b"WTRM"), 1.0)
    assert session.poll(session.next_deadline()) == [term]
    assert session.poll(3.4) == [] and session.phase is Phase.REBOOTING
    assert session.poll(3.6) == [] and session.phase is Phase.DONE


def test_format_wait_is_configurable_and_a_slow_format_succeeds():
    session = make(timing=Timing(format_timeout=300))
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    session.poll(250.0)
    (start,) = frames(session.receive(reply(2, b"STRT"), 250.0))
    assert start.seq == 3


def test_lost_offer_is_resent_on_each_announcement_then_given_up():
    session = make(timing=Timing(offer_timeout=5))
    (offer,) = session.start(0)
    dscv = Frame(BOARD, bytes(6), 1, 0, messages.build_dscv(
        messages.Announcement("ID", KEY, "RB", "arm", "7.1", "7.16")))
    assert session.receive(dscv, 1.0) == [offer]
    session.poll(5.0)
    assert session.phase is Phase.FAILED
    assert "ignored the offer" in session.failure


def test_silent_board_is_given_up_after_the_stall_timeout():
    session = make(timing=Timing(stall_timeout=10))
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    session.receive(reply(2, b"STRT"), 0)
    session.receive(reply(3, b"RETR"), 0)
    session.receive(reply(4, b"RETR"), 0)
    t = 0.0
    while not session.finished:
        t = session.next_deadline()
        session.poll(t)
    assert 10.0 <= t < 10.5
    assert "stopped answering" in session.failure
    assert "routeros-7.16.1-arm64.npk" in session.failure


def test_wtrm_in_place_of_retr_means_files_were_skipped():
    session = make()
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    session.receive(reply(2, b"STRT"), 0)
    (term,) = session.receive(reply(3, b"WTRM"), 0)
    assert session.phase is Phase.FAILED
    assert "ended the file list early" in session.failure
    assert (term.seq, term.ack, term.payload) == (4, 3, b"TERM\n")  # it waits: release it


def test_repeated_wtrm_after_term_gets_term_again():
    session = make([InstallFile("autorun.scr", b"x")])
    session.start(0)
    # seq 4 header, 5 data, 6 end of file, 7 "FILE\n": the board answers 7 with WTRM.
    for seq, payload in ((1, b"YACK\n"), (2, b"STRT"), (3, b"RETR"), (4, b"RETR"), (5, b"RETR"),
                         (6, b"RETR")):
        session.receive(reply(seq, payload), 0)
    (term,) = session.receive(reply(7, b"WTRM"), 0)
    assert session.receive(reply(7, b"WTRM"), 1.0) == [term]
    session.poll(3.4)
    assert session.phase is Phase.REBOOTING  # quiet since 1.0: not yet 2.5 intervals
    session.poll(3.6)
    assert session.phase is Phase.DONE


def test_a_board_that_keeps_asking_for_term_is_not_confirmed_after_the_timeout():
    session = make([InstallFile("autorun.scr", b"x")], timing=Timing(reboot_timeout=5))
    session.start(0)
    for seq, payload in ((1, b"YACK\n"), (2, b"STRT"), (3, b"RETR"), (4, b"RETR"), (5, b"RETR"),
                         (6, b"RETR")):
        session.receive(reply(seq, payload), 0)
    session.receive(reply(7, b"WTRM"), 0)
    for second in range(1, 5):  # its TERMs are all lost: it repeats WTRM every second
        assert [f.payload for f in session.receive(reply(7, b"WTRM"), second)] == [b"TERM\n"]
        session.poll(second + 0.5)
        assert session.phase is Phase.REBOOTING
    session.poll(5.0)
    assert session.phase is Phase.UNCONFIRMED and "power-cycle" in session.end_detail


def test_frames_from_other_macs_or_with_wrong_counters_are_ignored():
    session = make()
    session.start(0)
    other = bytes.fromhex("02cccccccccc")
    assert session.receive(reply(1, b"YACK\n", src=other), 0) == []
    assert session.receive(reply(1, b"YACK\n", dst=other), 0) == []
    assert session.receive(reply(1, b"YACK\n", ack=0), 0) == []
    assert session.receive(reply(2, b"YACK\n"), 0) == []
    assert session.phase is Phase.OFFERING


def test_window_sends_several_frames_and_goes_back_on_a_stale_reply():
    data = bytes(1452 * 20)
    session = make([InstallFile("a.npk", data)], window=4)
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    burst = frames(session.receive(reply(2, b"STRT"), 0))
    assert [f.seq for f in burst] == [3, 4, 5, 6]
    assert [f.seq for f in frames(session.receive(reply(3, b"RETR"), 0.001))] == [7]
    # The board repeats RETR(3): frame 4 was lost. The window halves (4 -> 2) and the
    # frames from 4 go again, as many as the smaller window allows.
    again = frames(session.receive(reply(3, b"RETR"), 0.05))
    assert [f.seq for f in again] == [4, 5]
    assert session.congestion.window == 2
    # A late ack for a frame sent before the go-back still counts. Past the loss, the
    # window grows by one frame per round trip only (2 -> 2.5 here), as TCP's does.
    assert [f.seq for f in frames(session.receive(reply(6, b"RETR"), 0.06))] == [7, 8]
    assert session.congestion.window == 2
    frames(session.receive(reply(7, b"RETR"), 0.07))  # 2.5 -> 2.9
    assert session.congestion.window == 2
    frames(session.receive(reply(8, b"RETR"), 0.08))  # -> 3.2: three frames in flight
    assert session.congestion.window == 3


def test_window_grows_by_one_frame_per_ack_up_to_the_limit():
    session = make([InstallFile("a.npk", bytes(1452 * 200))], window=16)
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    sizes = []
    in_flight = frames(session.receive(reply(2, b"STRT"), 0))
    while len(sizes) < 40:
        sizes.append(session.congestion.window)
        seq = in_flight.pop(0).seq
        in_flight += frames(session.receive(reply(seq, b"RETR"), 0.001))
    assert sizes[0] == 4 and max(sizes) == 16 and sizes[-1] == 16
    assert sizes == sorted(sizes)


def test_too_many_frames_for_the_16_bit_counter_is_refused():
    with pytest.raises(ValueError, match="16-bit"):
        make([InstallFile("big.npk", bytes(1452 * 65530))])


def test_board_restart_during_upload_fails_the_session():
    session = make()
    session.start(0)
    session.receive(reply(1, b"YACK\n"), 0)
    session.receive(reply(2, b"STRT"), 0)
    dscv = Frame(BOARD, bytes(6), 1, 0, b"DSCV\n\n\nRB\narm\n0.0\n\0")
    session.receive(dscv, 1.0)
    assert session.phase is Phase.FAILED
    assert "announced itself again" in session.failure


def test_offer_without_key_when_the_board_has_none():
    session = ServerSession(SERVER, BOARD, [InstallFile("a.scr", b"")], key="", window=1)
    (offer,) = frames(session.start(0))
    assert offer.payload == b"OFFR\n\n\n\n\0"


def test_encode_of_resent_frames_is_deterministic():
    session = make()
    assert session.payload(5) == session.payload(5)
    sent = session.start(0) + session.receive(reply(1, b"YACK\n"), 0)
    assert [f.to_bytes() for f in sent] == [
        encode(SERVER, BOARD, 1, 0, session.payload(1)), encode(SERVER, BOARD, 2, 1, b"")]


def test_repr_of_a_session_and_its_files_never_holds_the_data():
    big = InstallFile("routeros.npk", b"\x55" * 1_000_000)
    session = make([big])
    assert len(repr(session)) < 200 and len(repr(big)) < 200
    assert session != make([big])  # identity, not field-by-field equality


# ------------------------------------------------------- frames in the board's name


def uploading(**kwargs):
    session = make(window=8, **kwargs)
    session.start(0.0)
    session.receive(reply(1, b"YACK\n"), 0.0)
    session.receive(reply(2, b"STRT"), 0.0)
    assert session.phase is Phase.UPLOADING
    return session


def test_an_acknowledgement_of_a_frame_never_sent_fails_as_conflicting():
    from nitools.netinstall.events import FailureCause

    session = uploading()
    session.receive(reply(40, b"RETR"), 0.1)  # the plan has fewer frames than that
    assert session.phase is Phase.FAILED
    assert session.cause is FailureCause.CONFLICTING_ANSWERS
    assert "only" in session.failure and "were ever sent" in session.failure


def test_a_board_left_behind_by_acknowledgements_in_its_name_fails_the_session():
    from nitools.netinstall.events import FailureCause

    session = uploading()
    for seq in (3, 4, 5, 6):  # a stranger acknowledges what was sent ...
        session.receive(reply(seq, b"RETR"), 0.1)
    for _ in range(9):  # ... while the board itself still asks after frame 3
        session.receive(reply(3, b"RETR"), 0.2)
    assert session.phase is Phase.UPLOADING  # a late copy or two is no evidence
    session.receive(reply(3, b"RETR"), 0.2)
    assert session.cause is FailureCause.CONFLICTING_ANSWERS
    assert "keeps answering frame 3, yet frames up to 6" in session.failure


def test_an_announcement_with_another_software_id_is_ignored_and_told():
    session = uploading(software_id="REAL-0001")
    forged = messages.Announcement("FAKE-0002", "", "RB", "arm64", "7.12", "7.16.1")
    session.receive(Frame(BOARD, bytes(6), 1, 0, messages.build_dscv(forged)), 0.1)
    assert session.phase is Phase.UPLOADING and session.conflicting_frames == 1
    seq = 3
    while session.phase is Phase.UPLOADING:  # the real board goes on to the end
        session.receive(reply(seq, b"WTRM" if seq == session.end_seq else b"RETR"), 0.2)
        seq += 1
    session.poll(10.0)
    assert session.phase is Phase.DONE
    assert "1 announcement in its name with another software ID ignored" in \
        session.end_detail
    restarted = uploading(software_id="REAL-0001")  # the board itself restarting
    real = messages.Announcement("REAL-0001", "", "RB", "arm64", "7.12", "7.16.1")
    restarted.receive(Frame(BOARD, bytes(6), 1, 0, messages.build_dscv(real)), 0.1)
    assert restarted.board_restarted and restarted.phase is Phase.FAILED


def test_a_wtrm_in_the_boards_name_while_the_board_is_behind_is_no_reboot():
    from nitools.netinstall.events import FailureCause

    session = uploading()
    for seq in range(3, session.end_seq):  # a stranger acknowledges every frame ...
        session.receive(reply(seq, b"RETR"), 0.1)
    session.receive(reply(session.end_seq, b"WTRM"), 0.1)  # ... and the end of the files
    assert session.phase is Phase.REBOOTING
    for _ in range(10):  # the board itself still asks for frame 4
        session.receive(reply(3, b"RETR"), 0.2)
    session.poll(10.0)
    assert session.phase is Phase.FAILED  # never "reboot confirmed" by its silence
    assert session.cause is FailureCause.CONFLICTING_ANSWERS


def test_the_module_diagram_and_the_transition_table_agree():
    """Every arrow of server.py's diagram is in TRANSITIONS, and nothing else is."""
    import re

    from nitools.netinstall import server

    drawn = set()
    diagram = server.__doc__.split("::", 1)[1]
    for line in diagram.splitlines():
        line = line.split("(", 1)[0]  # a note in brackets is no arrow
        if "--" not in line:
            continue
        left, *arrows = re.split(r"\s*--(\S+?)-->\s*", line.strip())
        # A line reads "A --x--> B --y--> C": A takes x to B, B takes y to C. A line may
        # start with several phases ("A, B --x--> C"), each taking x to C.
        sources = [name.strip() for name in left.split(",")]
        for happened, target in zip(arrows[0::2], arrows[1::2], strict=True):
            for source in sources:
                drawn.add((server.Phase[source], server.Happened(happened),
                           server.Phase[target.strip()]))
            sources = [target.strip()]
    table = {(phase, happened, after) for (phase, happened), after in
             server.TRANSITIONS.items()}
    assert drawn == table
