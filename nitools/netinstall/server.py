"""The flasher's side of one board's netinstall session. Pure: frames and time
in, frames and events out; no sockets, clock or logging (docs/architecture.md).

The sequence plan (``protocol.py``) fixes which frame has which seq, so every
server frame is a function of its seq alone and a resend is always
byte-identical (docs/protocol.md §2.2, §4).

From seq 3 to ``end`` every reply is a RETR (the last a WTRM), so those frames
may be sent in a window; loss is repaired by going back to the first frame the
board has not acknowledged, either when the board repeats its previous reply
or when our own retransmission timer fires (RTO from the measured round trip,
as TCP does). The window adapts: it doubles each round trip without loss, up
to ``window``, and halves on every loss; ``window=1`` is plain stop-and-wait
(``Congestion``, docs/protocol.md §5.3).

The phases, and the only changes between them: ``TRANSITIONS`` is keyed by (phase,
what happened), as h11 keys its table by state and event; ``_enter`` makes each change.
A test checks that this diagram and the table agree::

    OFFERING --yack--> FORMATTING --strt--> UPLOADING --wtrm--> REBOOTING --silence--> DONE
    UPLOADING --wait--> WAITING --release--> REBOOTING   (--after-install wait)
    REBOOTING --wtrm--> REBOOTING     (a repeated WTRM: our TERM was lost)
    REBOOTING --kept-asking--> UNCONFIRMED
    OFFERING, FORMATTING, UPLOADING, REBOOTING, WAITING --failure--> FAILED
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from nitools.netinstall import events, messages
from nitools.netinstall.congestion import Congestion, SendBudget
from nitools.netinstall.events import FailureCause
from nitools.netinstall.frame import Frame
from nitools.netinstall.protocol import (
    FIRST_FILE_SEQ,
    FORMAT_SEQ,
    MAX_CHUNK,
    OFFER_SEQ,
    RETR,
    START_SEQ,
    FileSlot,
    Role,
    SequencePlan,
)


class Phase(enum.Enum):
    OFFERING = "offering"
    FORMATTING = "formatting"
    UPLOADING = "uploading"
    REBOOTING = "rebooting"  # TERM sent; waiting for the board to fall silent
    WAITING = "waiting"  # every file acknowledged; TERM held back until release()
    DONE = "done"  # every file acknowledged, reboot confirmed
    UNCONFIRMED = "unconfirmed"  # every file acknowledged; the board kept asking for TERM
    FAILED = "failed"


class Happened(enum.Enum):
    """What moves a session from one phase to the next."""

    YACK = "yack"  # the board took the offer
    STRT = "strt"  # its format is done: the files may go
    WTRM = "wtrm"  # every file acknowledged (or a repeat of that): TERM goes out
    SILENCE = "silence"  # it stopped asking for TERM, or announced itself: rebooted
    KEPT_ASKING = "kept-asking"  # it still asked for TERM at the reboot timeout
    WAIT = "wait"  # every file acknowledged, and TERM is to be held back
    RELEASE = "release"  # the operator asked for the reboot: TERM goes out
    FAILURE = "failure"  # anything that ends the attempt unfinished


_RUNNING = (Phase.OFFERING, Phase.FORMATTING, Phase.UPLOADING, Phase.REBOOTING,
            Phase.WAITING)
_ENDED = (Phase.DONE, Phase.UNCONFIRMED, Phase.FAILED)  # a tuple: enum hashing is slow
_NO_FILE = FileSlot(-1, 0, 0, 0, 0, 0)  # no frame is data of it
# Every phase change a session may make: (phase, what happened) -> the next phase.
TRANSITIONS: dict[tuple[Phase, Happened], Phase] = {
    (Phase.OFFERING, Happened.YACK): Phase.FORMATTING,
    (Phase.FORMATTING, Happened.STRT): Phase.UPLOADING,
    (Phase.UPLOADING, Happened.WTRM): Phase.REBOOTING,
    (Phase.REBOOTING, Happened.WTRM): Phase.REBOOTING,  # the wait for silence starts again
    (Phase.REBOOTING, Happened.SILENCE): Phase.DONE,
    (Phase.REBOOTING, Happened.KEPT_ASKING): Phase.UNCONFIRMED,
    (Phase.UPLOADING, Happened.WAIT): Phase.WAITING,
    (Phase.WAITING, Happened.RELEASE): Phase.REBOOTING,
    **{(phase, Happened.FAILURE): Phase.FAILED for phase in _RUNNING},
}


# A board repeats only its last answer. An older answer repeated this often, after frames
# past it were acknowledged in its name, means someone else acknowledged them.
STALE_REPEATS = 10


@dataclass(frozen=True)
class InstallFile:
    """One file as the board will receive it. ``data`` is shared, never copied."""

    name: str
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        messages.build_file_header(self.name, len(self.data))  # validates the name


@dataclass(frozen=True)
class Timing:
    """Server-side timers, in seconds. Defaults follow the board's timers (docs/protocol.md §5)."""

    offer_timeout: float = 8.0  # the board announces every 1 s; ~8 ignored offers is a verdict
    offer_resend: float = 0.2  # a board that answered drops a repeated OFFR (seq 1)
    format_timeout: float = 180.0  # formats of 2 minutes are reported (docs/protocol.md §5.2)
    stall_timeout: float = 10.0  # the board gives up after 6 s (between files) / 9 s (in a file)
    wtrm_interval: float = 1.0  # the board repeats WTRM this often while it waits for TERM
    reboot_timeout: float = 60.0  # give up confirming the reboot this long after TERM
    term_repeat: float = 0.02  # TERM goes out twice: a lost TERM costs the board's 1 s
    start_probe: float = 0.25  # while formatting, offer the start frame this often
    min_rto: float = 0.003  # a LAN round trip is ~0.1 ms; a spurious resend is only a dup
    board_repeat: float = 0.02  # a waiting board repeats its reply after 20 ms at the soonest
    max_rto: float = 0.5


class ServerSession:
    """One board's session. Identity equality; a short repr (never the files).

    The protocol has no authentication: anyone on the segment can send frames in a
    board's name. What can be told is told (docs/protocol.md §12): an announcement with
    another software ID is ignored and counted, an acknowledgement of a frame never sent
    or the board still answering an old frame fails the session as conflicting."""

    def __init__(self, server_mac: bytes, device_mac: bytes, files: Sequence[InstallFile], *,
                 window: int, key: str = "", keep: bool = False, timing: Timing | None = None,
                 chunk_size: int = MAX_CHUNK, budget: SendBudget | None = None,
                 software_id: str | None = None, hold_term: bool = False) -> None:
        self.server_mac = server_mac
        self.device_mac = device_mac
        self.files = tuple(files)
        self.key = key
        self.keep = keep
        self.hold_term = hold_term  # --after-install wait: no TERM until release()
        self.timing = timing or Timing()
        self.plan = SequencePlan([len(f.data) for f in self.files], chunk_size)
        if not self.plan.fits_counter:
            raise ValueError(
                f"{self.plan.term_seq} frames do not fit the protocol's 16-bit counter: "
                "send fewer or smaller files")
        self.congestion = Congestion(window, self.timing.min_rto, self.timing.max_rto,
                                     int.from_bytes(device_mac, "big"))
        self._offer = messages.build_offer(key, keep)
        self.end_seq = self.plan.end_seq  # FILE\n: no more files
        self.term_seq = self.plan.term_seq
        self.total_bytes = self.plan.total_bytes
        self.phase = Phase.OFFERING
        self.failure: str | None = None
        self.cause: FailureCause | None = None  # why it did not end rebooted, as one word
        self.end_detail = ""  # how the session ended, for people
        self.board_restarted = False
        self.software_id = software_id  # as the board announced it; None: not checked
        self.conflicting_frames = 0  # frames in the board's name that contradicted it
        self._stale_seq = 0  # an answer older than the last acknowledged one, and
        self._stale_times = 0  # how often it came
        self.acked = 0  # highest seq the board has acknowledged
        self._next = 1  # next seq to transmit
        self._highest_sent = 0  # a go-back lowers _next, but the board may have these
        self._first_sent: dict[int, float] = {}  # seq -> time, frames sent once only (Karn)
        self._file_index = -1  # index of the file being sent
        self._next_file_at = self._file_change_at(0)
        self._views = [memoryview(file.data) for file in self.files]  # never copied
        self._data_slot = _NO_FILE  # the file whose data frames were sent last
        self._oldest_sent_at = 0.0  # when frame acked+1 was last (re)sent
        self._deadline = 0.0  # phase deadline: give up, or (rebooting) finish
        self._offer_sent_at = 0.0
        self._offer_wait = self.timing.offer_resend
        self._term_first_at: float | None = None  # when the first TERM went out
        self._term_again_at: float | None = None
        self._probe_at = 0.0
        self.budget = budget  # shared with the station's other sessions, if any
        self._charged = 0  # frames of ours counted in the budget
        self._counted = False  # counted among the budget's uploading sessions
        self.retransmissions = 0
        self.resent_on_timer = 0  # of those, resent when our own timer fired
        self.upload_started_at: float | None = None
        self.upload_finished_at: float | None = None
        self._events: list[events.BoardEvent] = []

    def __repr__(self) -> str:
        return (f"<ServerSession {self.device_mac.hex(':')} {self.phase.value} "
                f"acked={self.acked}/{self.term_seq} files={len(self.files)} "
                f"bytes={self.total_bytes}>")

    # ----------------------------------------------------------------- frames

    def payload(self, seq: int) -> bytes:
        """The payload of server frame ``seq``; the same bytes every time."""
        slot = self._data_slot
        if slot.header_seq < seq < slot.eof_seq:  # data of the file being sent: no lookup
            return self._chunk(slot, seq)
        role, found = self.plan.locate(seq)
        if role is Role.DATA:
            assert found is not None
            self._data_slot = found
            return self._chunk(found, seq)
        if role is Role.OFFER:
            return self._offer
        if role is Role.FILE_HEADER:
            assert found is not None
            file = self.files[found.index]
            return messages.build_file_header(file.name, len(file.data))
        if role is Role.END_OF_FILES:
            return messages.END_OF_FILES
        if role is Role.TERM:
            return messages.TERM
        return b""  # format, start, end of file

    def _chunk(self, slot: FileSlot, seq: int) -> bytes:
        start = self.plan.chunk_start(slot, seq)
        return self._views[slot.index][start:start + self.plan.chunk_size]  # type: ignore[return-value]

    def _frame(self, seq: int) -> Frame:
        if seq > self._highest_sent:
            self._highest_sent = seq
        return Frame(self.server_mac, self.device_mac, seq, seq - 1, self.payload(seq))

    def expected_reply(self, seq: int) -> bytes | None:
        return self.plan.reply(seq)

    # --------------------------------------------------------------- progress

    @property
    def bytes_acked(self) -> int:
        """File bytes the board has confirmed."""
        return self.plan.bytes_acked(self.acked)

    @property
    def current_file(self) -> str | None:
        if self._file_index < 0 or self.acked >= self.end_seq:
            return None
        return self.files[self._file_index].name

    @property
    def finished(self) -> bool:
        return self.phase in _ENDED

    @property
    def upload_rate(self) -> float | None:
        """File bytes per second between the end of the format and the last ack."""
        if self.upload_started_at is None or self.upload_finished_at is None:
            return None
        seconds = self.upload_finished_at - self.upload_started_at
        return self.total_bytes / seconds if seconds > 0 else None

    @property
    def has_events(self) -> bool:
        return bool(self._events)

    def take_events(self) -> list[events.BoardEvent]:
        taken, self._events = self._events, []
        return taken

    # ------------------------------------------------------------- transitions

    def start(self, now: float) -> list[Frame]:
        """The OFFR; call once when the board's announcement arrives."""
        self._deadline = now + self.timing.offer_timeout
        self._offer_sent_at = now
        self._next = FORMAT_SEQ
        self._events.append(events.Offered(now, self.device_mac))
        return [self._frame(OFFER_SEQ)]

    def receive(self, frame: Frame, now: float) -> list[Frame]:
        out = self._receive(frame, now)
        if self.budget is not None:
            self._charge()
        return out

    def poll(self, now: float) -> list[Frame]:
        """Timers: call at (or after) next_deadline()."""
        out = self._poll(now)
        if self.budget is not None:
            self._charge()
        return out

    def _charge(self) -> None:
        """Keep the station's budget equal to the frames we have in flight."""
        assert self.budget is not None
        uploading = self.phase is Phase.UPLOADING
        own = self._next - 1 - self.acked if uploading else 0
        self.budget.in_flight += own - self._charged
        self._charged = own
        if uploading != self._counted:
            self.budget.count(1 if uploading else -1)
            self._counted = uploading

    def _allowance(self) -> int:
        """The most frames this session may have in flight now."""
        if self.budget is None:
            return self.congestion.window
        budget, allowance = self.budget, self.congestion.window
        room = budget.limit - (budget.in_flight - self._charged)  # what the others left
        # Never more than a fair share, or the first boards to start would take it all
        # and leave the others one frame each. (Comparisons, not min(): every frame.)
        if room < allowance:
            allowance = room
        if budget.fair_share < allowance:
            allowance = budget.fair_share
        return allowance if allowance > 1 else 1

    def _receive(self, frame: Frame, now: float) -> list[Frame]:
        if frame.src != self.device_mac or self.phase in _ENDED:
            return []
        seq = frame.seq
        if (self.phase is Phase.UPLOADING and seq == frame.ack and seq > self.acked
                and frame.dst == self.server_mac and seq <= self._highest_sent):
            # Nearly every frame: the answer to the next frame of the upload (never an
            # announcement: those have seq 1, ack 0). The general path decides the same.
            if frame.payload == (RETR if seq < self.end_seq else self.plan.reply(seq)):
                return self._on_ack(seq, now)
            return self._on_wrong_reply(seq, frame.payload)
        if frame.payload.startswith(messages.DSCV) and seq == 1 and frame.ack == 0:
            return self._on_announcement(frame, now)
        if frame.dst != self.server_mac or seq != frame.ack:
            return []
        if self.phase is Phase.WAITING:
            return []  # its WTRMs: any answer but TERM would leave it deaf to TERM
        if self.phase is Phase.REBOOTING:
            # A repeated WTRM means our TERM was lost.
            if seq == self.end_seq and frame.payload == messages.WTRM:
                return self._send_term(now)
            if seq < self.end_seq:  # the board is still behind the files: whose WTRM?
                return self._on_stale(seq)
            return []
        if seq == self.acked and self._next > self.acked + 1:
            return self._go_back(now, stale_reply=True)  # the board repeats: it missed acked+1
        if seq < self.acked:
            return self._on_stale(seq)  # a late copy, or the board left behind
        if seq > max(self._highest_sent, self._next - 1):
            if self.phase is Phase.UPLOADING:  # before it: a stray frame of an old session
                self._fail(f"conflicting answers on the wire: frame {seq} was acknowledged "
                           f"in the board's name, but only {self._highest_sent} were ever "
                           "sent", FailureCause.CONFLICTING_ANSWERS)
            return []
        expected = self.expected_reply(seq)
        if frame.payload != expected:
            return self._on_wrong_reply(seq, frame.payload)
        return self._on_ack(seq, now)

    def _poll(self, now: float) -> list[Frame]:
        if self.finished or self.phase is Phase.WAITING:
            return []  # a waiting board waits as long as the operator takes
        if self.phase is Phase.REBOOTING:
            if now >= self._deadline:
                self._finish(Happened.SILENCE,
                             "reboot confirmed: the board stopped asking for TERM")
            elif self._term_first_at is not None and \
                    now >= self._term_first_at + self.timing.reboot_timeout:
                self._finish(Happened.KEPT_ASKING, (
                    f"all files acknowledged, but the board still asked for TERM after "
                    f"{self.timing.reboot_timeout:g} s: power-cycle it"),
                    FailureCause.REBOOT_UNCONFIRMED)
            elif self._term_again_at is not None and now >= self._term_again_at:
                self._term_again_at = None
                return [self._frame(self.term_seq)]
            return []
        if now >= self._deadline:
            self._fail(*self._timeout_reason())
            return []
        if self.phase is Phase.OFFERING and now >= self._offer_sent_at + self._offer_wait:
            # Each unanswered OFFR waits twice as long (up to 1.6 s): a forged board costs
            # a handful of frames, a real one answers the first.
            self._offer_sent_at = now
            self._offer_wait = min(self._offer_wait * 2, 8 * self.timing.offer_resend)
            self.retransmissions += 1
            return [self._frame(OFFER_SEQ)]
        if self.phase is Phase.FORMATTING and now >= self._probe_at:
            # Offer the format frame again (a board that has it drops the duplicate by
            # its seq, so it can never format twice) and the start frame (dropped until
            # the board has sent STRT, by its ack <= tx rule): a lost format frame or a
            # lost STRT no longer costs the board's 1 s resend.
            self._probe_at = now + self.timing.start_probe
            self._next = max(self._next, FIRST_FILE_SEQ)
            return [self._frame(FORMAT_SEQ), self._frame(START_SEQ)]
        if self.phase is Phase.UPLOADING and now >= self._resend_at:
            self.congestion.on_timer()  # back off while nothing comes
            return self._go_back(now, stale_reply=False)
        return []

    @property
    def term_first_at(self) -> float | None:
        """When the first TERM went out: the board's reboot, as near as the station knows."""
        return self._term_first_at

    def release(self, now: float) -> list[Frame]:
        """A waiting board's reboot, asked for by an operator (or a stop): TERM."""
        if self.phase is not Phase.WAITING:
            return []
        self._enter(Happened.RELEASE, now)
        return self._send_term(now)

    def next_deadline(self) -> float | None:
        phase = self.phase
        if phase is Phase.WAITING:
            return None
        if phase is Phase.UPLOADING:
            resend_at = self._resend_at
            return resend_at if resend_at < self._deadline else self._deadline
        if phase is Phase.OFFERING:
            return min(self._deadline, self._offer_sent_at + self._offer_wait)
        if phase is Phase.FORMATTING:
            return min(self._deadline, self._probe_at)
        if phase is Phase.REBOOTING:
            assert self._term_first_at is not None
            deadline = min(self._deadline, self._term_first_at + self.timing.reboot_timeout)
            return deadline if self._term_again_at is None else min(deadline,
                                                                    self._term_again_at)
        return None if self.finished else self._deadline

    def abort(self, reason: str, cause: FailureCause = FailureCause.STATION_STOPPED) -> None:
        """End the session from outside (station shutdown)."""
        if not self.finished:
            self._fail(reason, cause)
            if self.budget is not None:
                self._charge()

    # ---------------------------------------------------------------- helpers

    def _on_stale(self, seq: int) -> list[Frame]:
        if seq != self._stale_seq:
            self._stale_seq, self._stale_times = seq, 0
        self._stale_times += 1
        if self._stale_times >= STALE_REPEATS and self.phase in (Phase.UPLOADING,
                                                                 Phase.REBOOTING):
            self._fail(f"conflicting answers on the wire: the board keeps answering frame "
                       f"{seq}, yet frames up to {self.acked} were acknowledged in its name",
                       FailureCause.CONFLICTING_ANSWERS)
        return []

    def _on_announcement(self, frame: Frame, now: float) -> list[Frame]:
        if self.software_id is not None:
            try:
                announced = messages.parse_dscv(frame.payload).software_id
            except messages.MessageError:
                announced = None
            if announced != self.software_id:  # not this board restarting: ignored
                self.conflicting_frames += 1
                return []
        if self.phase is Phase.OFFERING:
            # The offer was lost or ignored; the board resets its counters for each
            # announcement, so the same OFFR (1,0) is valid again.
            self._offer_sent_at = now
            self.retransmissions += 1
            return [self._frame(OFFER_SEQ)]
        if self.phase is Phase.REBOOTING:
            self._finish(Happened.SILENCE, "reboot confirmed: the board announced itself again")
            return []
        self.board_restarted = True  # it will be offered a fresh install at once
        self._fail(f"board restarted and announced itself again while {self.phase.value}",
                   FailureCause.BOARD_RESTARTED)
        return []

    def _on_wrong_reply(self, seq: int, payload: bytes) -> list[Frame]:
        if seq == OFFER_SEQ and payload == messages.NACK:
            self._fail("board rejected the licence key in the offer (NACK): "
                       "check the key file, or offer the board's own key",
                       FailureCause.KEY_REJECTED)
        elif payload == messages.WTRM:
            self._fail("board ended the file list early: it waited more than 6 s for a file",
                       FailureCause.FILES_CUT_SHORT)
            # It waits for TERM now, and TERM is always safe: it has finished
            # (docs/protocol.md §3.11).
            return [messages.term_answer(Frame(self.device_mac, self.server_mac, seq, seq,
                                               payload))]
        else:
            shown = bytes(payload[:16])
            self._fail(f"unexpected reply {shown!r} to frame {seq} "
                       f"(expected {self.expected_reply(seq)!r})", FailureCause.UNEXPECTED_REPLY)
        return []

    def _on_ack(self, seq: int, now: float) -> list[Frame]:
        first_sent = self._first_sent
        sent = first_sent.pop(seq, None)
        if sent is not None:
            self.congestion.sample(now - sent)
        if seq > self.acked + 1:  # acks are cumulative: no samples from the frames before
            for earlier in range(self.acked + 1, seq):  # (every key is above acked)
                first_sent.pop(earlier, None)
        # Under steady loss the window stays small, and so does what a go-back resends.
        self.congestion.on_ack()
        self.acked = seq
        if self._next <= seq:  # a late ack can overtake a go-back
            self._next = seq + 1
        self._oldest_sent_at = now
        if seq == OFFER_SEQ:
            self._enter(Happened.YACK, now)
            self._events.append(events.Accepted(now, self.device_mac))
            self._events.append(events.Formatting(now, self.device_mac))
            self._next = START_SEQ
            return [self._frame(FORMAT_SEQ)]
        if self.phase is Phase.FORMATTING:  # STRT, or the answer to a start-frame probe
            self._enter(Happened.STRT, now)
            self._events.append(events.UploadStarted(now, self.device_mac, self.total_bytes))
            if seq == FORMAT_SEQ:
                self._next = START_SEQ  # probes sent while it formatted were dropped: again
        if seq == self.end_seq:
            self.upload_finished_at = now
            self._events.append(events.Progress(now, self.device_mac, self.total_bytes,
                                                self.total_bytes))
            self._events.append(events.FilesAcknowledged(now, self.device_mac, self.total_bytes))
            if self.hold_term:
                self._enter(Happened.WAIT, now)
                self._events.append(events.WaitingForReboot(now, self.device_mac))
                return []
            return self._send_term(now)
        if seq >= self._next_file_at:
            self._next_file(seq, now)
        self._deadline = now + self.timing.stall_timeout
        return self._fill_window(now)

    def _next_file(self, seq: int, now: float) -> None:
        """The board acknowledged the frame before a file's header: that file starts."""
        slots = self.plan.slots
        while (self._file_index + 1 < len(slots)
               and slots[self._file_index + 1].header_seq <= seq + 1):
            self._file_index += 1
            # Progress up to here first, so no progress line ever follows the next file's.
            self._events.append(events.Progress(now, self.device_mac, self.bytes_acked,
                                                self.total_bytes))
            self._events.append(events.FileStarted(now, self.device_mac,
                                                   self.files[self._file_index].name))
        self._next_file_at = self._file_change_at(self._file_index + 1)

    def _file_change_at(self, index: int) -> int:
        """The ack that starts file ``index``: the frame before its header (past the end
        of files when there is no such file)."""
        slots = self.plan.slots
        return slots[index].header_seq - 1 if index < len(slots) else self.end_seq + 1

    @property
    def _resend_at(self) -> float:
        """When our own retransmission timer fires: RTO after the oldest unacknowledged
        frame went out, stretched by up to 25 % at random."""
        return self._oldest_sent_at + self.congestion.resend_after

    def _fill_window(self, now: float) -> list[Frame]:
        limit = self.acked + self._allowance()
        if limit > self.end_seq:
            limit = self.end_seq
        seq = self._next
        if seq > limit:
            return []
        out = []
        first_sent = self._first_sent
        while seq <= limit:
            first_sent[seq] = now
            out.append(self._frame(seq))
            seq += 1
        self._next = seq
        return out

    def _go_back(self, now: float, stale_reply: bool) -> list[Frame]:
        if self.phase is Phase.OFFERING:
            return []
        if self.phase is Phase.FORMATTING:
            # A repeated YACK: our format frame was lost. Nothing else is resent
            # while formatting, which may take minutes.
            if not stale_reply:
                return []
            self.retransmissions += 1
            return [self._frame(FORMAT_SEQ)]
        # Do not answer every repeat of a stale reply: the frame resent last may still be
        # on its way (queues at hundreds of boards). A repeat that comes sooner than the
        # board's own repeat interval after our resend was sent before it arrived.
        if stale_reply and now - self._oldest_sent_at < max(self.congestion.rto,
                                                             self.timing.board_repeat):
            return []
        resend_until = self._next
        self._next = self.acked + 1
        self._first_sent.clear()  # everything in flight is resent: no round-trip samples
        self._oldest_sent_at = now
        self.congestion.on_loss()
        out = []
        limit = self.acked + self._allowance()
        while self._next < resend_until and self._next <= limit:
            out.append(self._frame(self._next))
            self._next += 1
        self.retransmissions += len(out)
        if not stale_reply:
            self.resent_on_timer += len(out)
        return out

    def _send_term(self, now: float) -> list[Frame]:
        """TERM, for the WTRM that ended the file list or any repeat of it. The reboot is
        confirmed once the board has been silent for more than two of its WTRM intervals."""
        self._enter(Happened.WTRM, now)
        self._deadline = now + 2.5 * self.timing.wtrm_interval
        if self._term_first_at is None:
            self._term_first_at = now
            self._term_again_at = now + self.timing.term_repeat
            self._events.append(events.RebootSent(now, self.device_mac))
        return [self._frame(self.term_seq)]

    def _timeout_reason(self) -> tuple[str, FailureCause]:
        if self.phase is Phase.OFFERING:
            return (f"board ignored the offer for {self.timing.offer_timeout:g} s: its boot "
                    "image may need a licence key in the offer, or another server answered "
                    "it", FailureCause.OFFER_IGNORED)
        if self.phase is Phase.FORMATTING:
            return (f"no STRT within {self.timing.format_timeout:g} s of the format command: "
                    "the boot image may be older than the board's minimum version, "
                    "or the format needs a longer --format-timeout", FailureCause.FORMAT_TIMEOUT)
        where = self.current_file or ("the end of the file list" if self.acked >= self.end_seq - 1
                                      else "the start")
        return (f"board stopped answering for {self.timing.stall_timeout:g} s during {where} "
                f"({self.bytes_acked} of {self.total_bytes} bytes confirmed)",
                FailureCause.STALLED)

    def _fail(self, reason: str, cause: FailureCause) -> None:
        self._finish(Happened.FAILURE, reason, cause)

    def _finish(self, happened: Happened, detail: str, cause: FailureCause | None = None
                ) -> None:
        """The session is over: ``phase``, ``failure`` and ``cause`` say how."""
        self._enter(happened, None)
        phase = self.phase
        if self.conflicting_frames:
            detail += (f" ({self.conflicting_frames} announcement"
                       f"{'s' if self.conflicting_frames != 1 else ''} in its name with "
                       "another software ID ignored)")
        self.failure = detail if phase is Phase.FAILED else None
        self.cause = cause
        self.end_detail = detail

    def _enter(self, happened: Happened, now: float | None) -> None:
        """Every phase change, and what starts with the new phase."""
        phase = TRANSITIONS.get((self.phase, happened))
        if phase is None:
            raise AssertionError(f"no transition from {self.phase.value} on {happened.value}")
        self.phase = phase
        if phase is Phase.FORMATTING:
            assert now is not None
            self._deadline = now + self.timing.format_timeout
            self._probe_at = now + self.timing.start_probe
        elif phase is Phase.UPLOADING:
            self.upload_started_at = now
