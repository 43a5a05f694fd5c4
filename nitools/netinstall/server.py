"""The flasher's side of one board's netinstall session. Pure: frames and time
in, frames and events out; no sockets, clock or logging (design.md).

Frame numbering is fixed by the protocol, so every server frame is a function
of its seq alone and a resend is always byte-identical (§2.2, §3.8):

    seq 1            OFFR            board answers YACK (1,1) or NACK
    seq 2            empty: format   board answers STRT (2,2), after seconds to minutes
    seq 3            empty: start    board answers RETR (between-files)
    per file         FILE header, data chunks, empty end-of-file; RETR for each
    seq end          FILE\\n          board answers WTRM
    seq end+1        TERM\\n          no answer: the board reboots

From seq 3 to ``end`` every reply is a RETR (the last a WTRM), so those frames
may be sent in a window; loss is repaired by going back to the first frame the
board has not acknowledged, either when the board repeats its previous reply
or when our own retransmission timer fires (RTO from the measured round trip,
as TCP does). The window adapts: it doubles each round trip without loss, up
to ``window``, and halves on every loss; ``window=1`` is plain stop-and-wait.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from nitools.netinstall import messages
from nitools.netinstall.frame import COUNTER_LIMIT, MAX_CHUNK, Frame, encode


class Phase(enum.Enum):
    OFFERING = "offering"
    FORMATTING = "formatting"
    UPLOADING = "uploading"
    REBOOTING = "rebooting"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class InstallFile:
    """One file as the board will receive it. ``data`` is shared, never copied."""

    name: str
    data: bytes

    def __post_init__(self) -> None:
        messages.build_file_header(self.name, len(self.data))  # validates the name


@dataclass(frozen=True)
class Timing:
    """Server-side timers, in seconds. Defaults follow the device timers of §5.1."""

    offer_timeout: float = 8.0  # the board announces every 1 s; ~8 ignored offers is a verdict
    offer_resend: float = 0.2  # a board that answered drops a repeated OFFR (seq 1)
    format_timeout: float = 180.0  # formats of 2 minutes are reported (§5.2)
    stall_timeout: float = 10.0  # the board gives up after 6 s (between files) / 9 s (in a file)
    term_linger: float = 1.2  # the board repeats WTRM every 1 s if our TERM was lost
    term_resends: int = 5
    term_repeat: float = 0.02  # TERM goes out twice: a lost TERM costs the board's 1 s
    start_probe: float = 0.25  # while formatting, offer the start frame this often
    min_rto: float = 0.003  # a LAN round trip is ~0.1 ms; a spurious resend is only a dup
    max_rto: float = 0.5


@dataclass(frozen=True)
class Event:
    """Something a person may want to know: ``kind`` names it, ``detail`` says it."""

    kind: str  # offered, accepted, formatting, uploading, file, installed, done, failed
    detail: str = ""


def frame_count(files: Sequence[InstallFile], chunk_size: int = MAX_CHUNK) -> int:
    """Server frames one session needs: OFFR, format, start, files, end, TERM."""
    return frame_count_for_sizes([len(f.data) for f in files], chunk_size)


def frame_count_for_sizes(sizes: Sequence[int], chunk_size: int = MAX_CHUNK) -> int:
    per_file = sum(2 + -(-size // chunk_size) for size in sizes)  # header, chunks, end of file
    return 3 + per_file + 2


@dataclass
class _FileSlot:
    file: InstallFile
    header_seq: int
    chunks: int
    data_before: int  # file bytes in all earlier files

    @property
    def eof_seq(self) -> int:
        return self.header_seq + self.chunks + 1


@dataclass
class ServerSession:
    server_mac: bytes
    device_mac: bytes
    files: Sequence[InstallFile]
    key: str = ""
    keep: bool = False
    timing: Timing = field(default_factory=Timing)
    chunk_size: int = MAX_CHUNK
    window: int = 1  # the most frames in flight; the session adapts below it

    def __post_init__(self) -> None:
        if not 1 <= self.chunk_size <= MAX_CHUNK:
            raise ValueError(f"chunk size must be 1..{MAX_CHUNK}")
        self.window = max(1, self.window)
        self._cwnd = float(min(2, self.window))  # frames in flight now
        self._offer = messages.build_offer(self.key, self.keep)
        self._slots: list[_FileSlot] = []
        seq, before = 4, 0
        for file in self.files:
            chunks = -(-len(file.data) // self.chunk_size)
            self._slots.append(_FileSlot(file, seq, chunks, before))
            seq += chunks + 2
            before += len(file.data)
        self._header_seqs = [slot.header_seq for slot in self._slots]
        self.end_seq = seq  # FILE\n: no more files
        self.term_seq = seq + 1
        if self.term_seq > COUNTER_LIMIT:
            raise ValueError(
                f"{self.term_seq} frames do not fit the protocol's 16-bit counter "
                f"(at most {COUNTER_LIMIT}): send fewer or smaller files")
        self.total_bytes = before
        self.phase = Phase.OFFERING
        self.failure: str | None = None
        self.acked = 0  # highest seq the board has acknowledged
        self._next = 1  # next seq to transmit
        self._highest_sent = 0  # a go-back lowers _next, but the board may have these
        self._first_sent: dict[int, float] = {}  # seq -> time, frames sent once only (Karn)
        self._file_index = -1  # index of the file being sent
        self._oldest_sent_at = 0.0  # when frame acked+1 was last (re)sent
        self._last_progress = 0.0
        self._deadline = 0.0  # phase deadline: give up, or (rebooting) finish
        self._offer_sent_at = 0.0
        self._term_sends = 0
        self._term_again_at: float | None = None
        self._probe_at = 0.0
        self._srtt: float | None = None
        self._rttvar = 0.0
        self._rto = self.timing.max_rto
        self.retransmissions = 0
        self.frames_sent = 0
        self._events: list[Event] = []

    # ----------------------------------------------------------------- frames

    def payload(self, seq: int) -> bytes:
        """The payload of server frame ``seq``; the same bytes every time."""
        if seq == 1:
            return self._offer
        if seq in (2, 3):
            return b""
        if seq == self.end_seq:
            return messages.END_OF_FILES
        if seq == self.term_seq:
            return messages.TERM
        slot = self._slots[bisect.bisect_right(self._header_seqs, seq) - 1]
        if seq == slot.header_seq:
            return messages.build_file_header(slot.file.name, len(slot.file.data))
        if seq == slot.eof_seq:
            return b""
        start = (seq - slot.header_seq - 1) * self.chunk_size
        return memoryview(slot.file.data)[start:start + self.chunk_size]  # type: ignore[return-value]

    def _frame(self, seq: int) -> bytes:
        self.frames_sent += 1
        if seq > self._highest_sent:
            self._highest_sent = seq
        return encode(self.server_mac, self.device_mac, seq, seq - 1, self.payload(seq))

    def expected_reply(self, seq: int) -> bytes:
        if seq == 1:
            return messages.YACK
        if seq == 2:
            return messages.STRT
        return messages.WTRM if seq == self.end_seq else messages.RETR

    # --------------------------------------------------------------- progress

    @property
    def bytes_acked(self) -> int:
        """File bytes the board has confirmed."""
        if self.acked < 4 or not self._slots:
            return 0
        if self.acked >= self.end_seq:
            return self.total_bytes
        slot = self._slots[bisect.bisect_right(self._header_seqs, self.acked) - 1]
        chunks_done = min(max(self.acked - slot.header_seq, 0), slot.chunks)
        return slot.data_before + min(chunks_done * self.chunk_size, len(slot.file.data))

    @property
    def current_file(self) -> str | None:
        if self._file_index < 0 or self.acked >= self.end_seq:
            return None
        return self._slots[self._file_index].file.name

    @property
    def window_now(self) -> int:
        return int(self._cwnd)

    @property
    def finished(self) -> bool:
        return self.phase in (Phase.DONE, Phase.FAILED)

    def take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------------- transitions

    def start(self, now: float) -> list[bytes]:
        """The OFFR; call once when the board's announcement arrives."""
        self._deadline = now + self.timing.offer_timeout
        self._offer_sent_at = now
        self._next = 2
        self._events.append(Event("offered"))
        return [self._frame(1)]

    def receive(self, frame: Frame, now: float) -> list[bytes]:
        if self.finished or frame.src != self.device_mac:
            return []
        if frame.payload.startswith(messages.DSCV) and frame.seq == 1 and frame.ack == 0:
            return self._on_announcement(now)
        if frame.dst != self.server_mac or frame.seq != frame.ack:
            return []
        seq = frame.seq
        if self.phase is Phase.REBOOTING:
            # A repeated WTRM means our TERM was lost.
            if seq == self.end_seq and frame.payload == messages.WTRM:
                return self._send_term(now)
            return []
        if seq == self.acked and self._next > self.acked + 1:
            return self._go_back(now, stale_reply=True)  # the board repeats: it missed acked+1
        if not self.acked < seq <= max(self._highest_sent, self._next - 1):
            return []  # an old duplicate, or nonsense
        expected = self.expected_reply(seq)
        if frame.payload != expected:
            return self._on_wrong_reply(seq, frame.payload)
        return self._on_ack(seq, now)

    def poll(self, now: float) -> list[bytes]:
        """Timers: call at (or after) next_deadline()."""
        if self.finished:
            return []
        if self.phase is Phase.REBOOTING:
            if now >= self._deadline:
                self._finish(Phase.DONE, "board rebooting into RouterOS")
            elif self._term_again_at is not None and now >= self._term_again_at:
                self._term_again_at = None
                return [self._frame(self.term_seq)]
            return []
        if now >= self._deadline:
            self._fail(self._timeout_reason())
            return []
        if self.phase is Phase.OFFERING and now >= self._offer_sent_at + self.timing.offer_resend:
            self._offer_sent_at = now
            self.retransmissions += 1
            return [self._frame(1)]
        if self.phase is Phase.FORMATTING and now >= self._probe_at:
            # Offer the format frame again (a board that has it drops the duplicate by
            # its seq, so it can never format twice) and the start frame (dropped until
            # the board has sent STRT, by its ack <= tx rule): a lost format frame or a
            # lost STRT no longer costs the board's 1 s resend.
            self._probe_at = now + self.timing.start_probe
            self._next = max(self._next, 4)
            return [self._frame(2), self._frame(3)]
        if self.phase is Phase.UPLOADING and now >= self._oldest_sent_at + self._rto:
            self._rto = min(self._rto * 2, self.timing.max_rto)  # back off while nothing comes
            return self._go_back(now, stale_reply=False)
        return []

    def next_deadline(self) -> float | None:
        phase = self.phase
        if phase is Phase.UPLOADING:
            return min(self._deadline, self._oldest_sent_at + self._rto)
        if phase is Phase.OFFERING:
            return min(self._deadline, self._offer_sent_at + self.timing.offer_resend)
        if phase is Phase.FORMATTING:
            return min(self._deadline, self._probe_at)
        if phase is Phase.REBOOTING and self._term_again_at is not None:
            return min(self._deadline, self._term_again_at)
        return None if phase is Phase.DONE or phase is Phase.FAILED else self._deadline

    def abort(self, reason: str) -> None:
        """End the session from outside (station shutdown, board restarted)."""
        if not self.finished:
            self._fail(reason)

    # ---------------------------------------------------------------- helpers

    def _on_announcement(self, now: float) -> list[bytes]:
        if self.phase is Phase.OFFERING:
            # The offer was lost or ignored; the board resets its counters for each
            # announcement, so the same OFFR (1,0) is valid again.
            self._offer_sent_at = now
            self.retransmissions += 1
            return [self._frame(1)]
        if self.phase is Phase.REBOOTING:
            self._finish(Phase.DONE, "board announced again after TERM")
            return []
        self._fail(f"board restarted and announced itself again while {self.phase.value}")
        return []

    def _on_wrong_reply(self, seq: int, payload: bytes) -> list[bytes]:
        if seq == 1 and payload == messages.NACK:
            self._fail("board rejected the licence key in the offer (NACK): "
                       "check the key file, or offer the board's own key")
        elif payload == messages.WTRM:
            self._fail("board ended the file list early: it waited more than 6 s for a file")
        else:
            shown = bytes(payload[:16])
            self._fail(f"unexpected reply {shown!r} to frame {seq} "
                       f"(expected {self.expected_reply(seq)!r})")
        return []

    def _on_ack(self, seq: int, now: float) -> list[bytes]:
        first_sent = self._first_sent
        sent = first_sent.pop(seq, None)
        if sent is not None:
            self._update_rtt(now - sent)
        while first_sent and next(iter(first_sent)) < seq:  # acks are cumulative
            del first_sent[next(iter(first_sent))]
        if self._cwnd < self.window:
            # Grow: one frame per ack doubles the window each round trip (slow start).
            self._cwnd = min(self._cwnd + 1.0, float(self.window))
        self.acked = seq
        self._next = max(self._next, seq + 1)  # a late ack can overtake a go-back
        self._last_progress = now
        self._oldest_sent_at = now
        if seq == 1:
            self.phase = Phase.FORMATTING
            self._deadline = now + self.timing.format_timeout
            self._probe_at = now + self.timing.start_probe
            self._events.append(Event("accepted", "board accepted the offer"))
            self._events.append(Event("formatting", "formatting the board's disk"))
            self._next = 3
            return [self._frame(2)]
        if self.phase is Phase.FORMATTING:  # STRT, or the answer to a start-frame probe
            self.phase = Phase.UPLOADING
            self._events.append(Event("uploading", "format done, sending files"))
            if seq == 2:
                self._next = 3  # probes sent while it formatted were dropped: start again
        if seq == self.end_seq:
            self._events.append(Event("installed", "all files received, board installing"))
            return self._send_term(now)
        slots = self._slots
        while (self._file_index + 1 < len(slots)
               and slots[self._file_index + 1].header_seq <= seq + 1):
            self._file_index += 1
            self._events.append(Event("file", slots[self._file_index].file.name))
        self._deadline = now + self.timing.stall_timeout
        return self._fill_window(now)

    def _fill_window(self, now: float) -> list[bytes]:
        out = []
        limit = min(self.acked + int(self._cwnd), self.end_seq)
        while self._next <= limit:
            self._first_sent[self._next] = now
            out.append(self._frame(self._next))
            self._next += 1
        return out

    def _go_back(self, now: float, stale_reply: bool) -> list[bytes]:
        if self.phase is Phase.OFFERING:
            return []
        if self.phase is Phase.FORMATTING:
            # A repeated YACK: our format frame was lost. Nothing else is resent
            # while formatting, which may take minutes.
            if not stale_reply:
                return []
            self.retransmissions += 1
            return [self._frame(2)]
        # Do not answer every repeat of a stale reply: one go-back per round trip.
        if stale_reply and now - self._oldest_sent_at < (self._srtt or 0.0):
            return []
        resend_until = self._next
        self._next = self.acked + 1
        self._first_sent.clear()  # everything in flight is resent: no round-trip samples
        self._oldest_sent_at = now
        self._cwnd = max(1.0, self._cwnd / 2)  # a loss: halve the window
        out = []
        limit = self.acked + int(self._cwnd)
        while self._next < resend_until and self._next <= limit:
            out.append(self._frame(self._next))
            self._next += 1
        self.retransmissions += len(out)
        return out

    def _send_term(self, now: float) -> list[bytes]:
        if self._term_sends >= self.timing.term_resends:
            self._finish(Phase.DONE, "installed; the board did not confirm TERM")
            return []
        self._term_sends += 1
        self.phase = Phase.REBOOTING
        self._deadline = now + self.timing.term_linger
        if self._term_sends == 1:
            self._term_again_at = now + self.timing.term_repeat
        return [self._frame(self.term_seq)]

    def _update_rtt(self, sample: float) -> None:
        # Jacobson/Karels smoothing, as TCP does (RFC 6298).
        if self._srtt is None:
            self._srtt, self._rttvar = sample, sample / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - sample)
            self._srtt = 0.875 * self._srtt + 0.125 * sample
        rto = self._srtt + 4 * self._rttvar
        self._rto = min(max(rto, self.timing.min_rto), self.timing.max_rto)

    def _timeout_reason(self) -> str:
        if self.phase is Phase.OFFERING:
            return (f"board ignored the offer for {self.timing.offer_timeout:g} s: its boot "
                    "image may need a licence key in the offer, or another server answered it")
        if self.phase is Phase.FORMATTING:
            return (f"no STRT within {self.timing.format_timeout:g} s of the format command: "
                    "the boot image may be older than the board's minimum version, "
                    "or the format needs a longer --format-timeout")
        where = self.current_file or ("the end of the file list" if self.acked >= self.end_seq - 1
                                      else "the start")
        return (f"board stopped answering for {self.timing.stall_timeout:g} s during {where} "
                f"({self.bytes_acked} of {self.total_bytes} bytes confirmed)")

    def _fail(self, reason: str) -> None:
        self._finish(Phase.FAILED, reason)
        self.failure = reason

    def _finish(self, phase: Phase, detail: str) -> None:
        self.phase = phase
        self._events.append(Event("done" if phase is Phase.DONE else "failed", detail))
