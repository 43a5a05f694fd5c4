"""The board's side of netinstall, as MikroTik's boot-image client behaves
(docs/protocol.md §2.3, §3, §5.1, §9, §11). Pure: frames and
time in, frames out (with the port index they go out on); no sockets, clock or
logging. Drives the emulator. What the board answers to each kind of frame is
the protocol's table (``protocol.REPLY``), shared with the flasher.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from dataclasses import dataclass, field

from nitools.netinstall import messages
from nitools.netinstall.frame import ZERO_MAC, Frame
from nitools.netinstall.messages import Announcement
from nitools.netinstall.protocol import REPLY, Role

Sent = list[tuple[int, Frame]]  # (port index, frame)


class DeviceState(enum.Enum):
    DISCOVERING = "discovering"
    OFFER_ANSWERED = "offer-answered"  # YACK sent, waiting for the format frame
    REJECTED = "rejected"  # NACK sent
    FORMATTING = "formatting"
    STARTED = "started"  # STRT sent
    BETWEEN_FILES = "between-files"  # RETR sent, waiting for FILE or the end
    IN_FILE = "in-file"  # RETR sent, waiting for data or end of file
    WAITING_TERM = "waiting-term"  # WTRM sent
    HUNG = "hung"  # took a non-TERM answer to WTRM: needs a power cycle (docs/protocol.md §3.11)
    REBOOTED = "rebooted"  # TERM received: success
    ABORTED = "aborted"  # a fatal error on the console; silent from now on


@dataclass(frozen=True)
class DeviceProfile:
    """What the emulated board is and how it behaves."""

    announcement: Announcement
    format_time: float = 0.0
    key_required: bool = False  # newer images ignore an OFFR without a key
    image_too_old: bool = False  # goes silent after the format frame
    source_port: int = 5000  # datagrams from any other UDP port are dropped
    accepted_keys: tuple[str, ...] = ()  # keys accepted besides the board's own


@dataclass
class ReceivedFile:
    name: str
    declared_size: int
    data: bytearray = field(default_factory=bytearray)

    @property
    def complete(self) -> bool:
        return len(self.data) == self.declared_size

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


# (resend interval, tries) after each kind of frame the board sends (docs/protocol.md §5.1).
_RESEND = {
    DeviceState.OFFER_ANSWERED: (1.0, 5),
    DeviceState.REJECTED: (1.0, 5),
    DeviceState.STARTED: (1.0, 5),
    DeviceState.BETWEEN_FILES: (0.020, 300),
    DeviceState.IN_FILE: (0.030, 300),
    DeviceState.WAITING_TERM: (1.0, None),
    DeviceState.HUNG: (1.0, None),
}
ANNOUNCE_INTERVAL = 1.0


def normalize_key(text: str) -> str:
    """A key as compared by the board: marker lines and white space dropped."""
    lines = [line.strip() for line in text.splitlines()]
    return "".join(line for line in lines if line and not line.startswith("-"))


class DeviceSession:
    """One emulated board with one or more Ethernet ports (one MAC each)."""

    def __init__(self, macs: list[bytes], profile: DeviceProfile, now: float = 0.0) -> None:
        if not macs:
            raise ValueError("a board needs at least one port")
        self.macs = macs
        self.profile = profile
        self.announcement = profile.announcement
        self.state = DeviceState.DISCOVERING
        self.port: int | None = None  # index of the port fixed by the accepted offer
        self.server: bytes | None = None
        self.tx = 0
        self.rx = 0
        self.keep = False
        self.installed_key: str | None = None
        self.files: list[ReceivedFile] = []
        self.abort_reason: str | None = None
        self.offers_seen = 0
        self.bytes_received = 0
        self.reboots = 0
        self.skipped_remaining_files = False
        self.waiting_term_since: float | None = None  # when it first sent WTRM
        self._last_frame: Frame | None = None
        self._resends_left: int | None = 0
        self._resend_at = now
        self._format_done_at = 0.0

    # ----------------------------------------------------------------- queries

    @property
    def mac(self) -> bytes:
        """The MAC of the port in use (the first one until an offer fixes it)."""
        return self.macs[self.port or 0]

    @property
    def finished(self) -> bool:
        return self.state in (DeviceState.REBOOTED, DeviceState.ABORTED, DeviceState.HUNG)

    def next_deadline(self) -> float | None:
        if self.state is DeviceState.ABORTED or self.state is DeviceState.REBOOTED:
            return None
        if self.state is DeviceState.FORMATTING:
            return self._format_done_at
        return self._resend_at

    # ------------------------------------------------------------------ timers

    def poll(self, now: float) -> Sent:
        """Timers: announcements, resends, the end of a format, give-ups."""
        if self.state is DeviceState.DISCOVERING:
            if now < self._resend_at:
                return []
            self._resend_at = now + ANNOUNCE_INTERVAL
            return self._announce()
        if self.state is DeviceState.FORMATTING:
            if now < self._format_done_at:
                return []
            return self._answer(Role.FORMAT, DeviceState.STARTED, now)
        if self.finished and self.state is not DeviceState.HUNG:
            return []
        if now < self._resend_at:
            return []
        if self._resends_left is not None:
            if self._resends_left <= 0:
                return self._give_up(now)
            self._resends_left -= 1
        interval, _ = _RESEND[self.state]
        self._resend_at = now + interval
        return [(self.port or 0, self._last_frame)] if self._last_frame is not None else []

    def _give_up(self, now: float) -> Sent:
        state = self.state
        if state in (DeviceState.OFFER_ANSWERED, DeviceState.REJECTED):
            self._restart_discovery(now)
            return []
        if state is DeviceState.STARTED:
            return self._abort("FATAL ERROR: server refused to install")
        if state is DeviceState.IN_FILE:
            return self._abort("FATAL ERROR: bad network connection")
        if state is DeviceState.BETWEEN_FILES:
            # Silence between files reads as "no more files" (docs/protocol.md §3.6).
            self.skipped_remaining_files = True
            return self._send(DeviceState.WAITING_TERM, messages.WTRM, now)
        return []

    # --------------------------------------------------------------- receiving

    def receive(self, port: int, frame: Frame, source_port: int, now: float) -> Sent:
        """One frame on one port, through the board's acceptance filter (docs/protocol.md §2.3).

        A datagram that does not decode (``frame.decode``) never reaches a board."""
        if source_port != self.profile.source_port or self.finished:
            return []
        mac = self.macs[port]
        if frame.src in self.macs:
            return []  # our own broadcast
        if self.server is None:
            if frame.dst != mac:  # all-zero would pass the filter, but discovery wants our MAC
                return []
        elif port != self.port or frame.dst != mac or frame.src != self.server:
            return []
        if frame.seq != self.rx + 1 or frame.ack > self.tx:
            return []  # duplicate or out of order: dropped silently, never re-acked
        if self.state is DeviceState.DISCOVERING:
            return self._on_offer(port, frame, now)
        if self.state is DeviceState.REJECTED:
            # The real client, told to go on after its NACK, announces again at once
            # (with the rejected key): see tests/fixtures/captures, the bad-key session.
            self._restart_discovery(now)
            return self.poll(now)
        if self.state is DeviceState.FORMATTING:
            return []
        self.rx = frame.seq
        return self._on_frame(frame, now)

    def _on_offer(self, port: int, frame: Frame, now: float) -> Sent:
        offer = messages.parse_offer(frame.payload)
        if offer is None:
            return []  # malformed: ignored without using up seq 1 (docs/protocol.md §3.2)
        self.offers_seen += 1
        if not offer.key and self.profile.key_required:
            return []  # newer images ignore an offer without a key
        if offer.key and not self._key_is_valid(offer.key):
            self.rx = frame.seq
            self.port, self.server = port, frame.src
            # The board announces the rejected key from now on (docs/protocol.md §3.3).
            self.announcement = Announcement(
                self.announcement.software_id, offer.key, self.announcement.model,
                self.announcement.arch, self.announcement.min_version,
                self.announcement.image_version)
            return self._send(DeviceState.REJECTED, messages.NACK, now, tries=5)
        self.rx = frame.seq
        self.port, self.server = port, frame.src
        self.keep = offer.keep
        if offer.key:
            self.installed_key = offer.key
        return self._answer(Role.OFFER, DeviceState.OFFER_ANSWERED, now, tries=5)

    def _key_is_valid(self, key: str) -> bool:
        wanted = normalize_key(key)
        known = [self.announcement.key, *self.profile.accepted_keys]
        if wanted not in {normalize_key(k) for k in known if k}:
            return False
        try:
            base64.b64decode(wanted, validate=True)
        except ValueError:
            return False
        return True

    def _on_frame(self, frame: Frame, now: float) -> Sent:
        state = self.state
        if state is DeviceState.OFFER_ANSWERED:  # the format frame; its payload is ignored
            if self.profile.image_too_old:
                return self._abort(
                    "FATAL ERROR: netinstall version is too old, board supports newer versions")
            self.state = DeviceState.FORMATTING
            self._format_done_at = now + self.profile.format_time
            return self.poll(now) if self.profile.format_time <= 0 else []
        if state is DeviceState.STARTED:  # payload ignored
            return self._answer(Role.START, DeviceState.BETWEEN_FILES, now)
        if state is DeviceState.BETWEEN_FILES:
            header = messages.parse_file_header(frame.payload)
            if header is None:
                return self._answer(Role.END_OF_FILES, DeviceState.WAITING_TERM, now)
            self.files.append(ReceivedFile(header.name, header.size))
            return self._answer(Role.FILE_HEADER, DeviceState.IN_FILE, now)
        if state is DeviceState.IN_FILE:
            if not frame.payload:
                return self._answer(Role.END_OF_FILE, DeviceState.BETWEEN_FILES, now)
            self.files[-1].data += frame.payload
            self.bytes_received += len(frame.payload)
            return self._answer(Role.DATA, DeviceState.IN_FILE, now)
        if state is DeviceState.WAITING_TERM:
            if frame.payload.startswith(b"TERM"):
                self.state = DeviceState.REBOOTED
            else:
                # Its counters no longer fit any TERM: it hangs (docs/protocol.md §3.11).
                self.state = DeviceState.HUNG
            return []
        return []

    # ---------------------------------------------------------------- sending

    def _answer(self, role: Role, state: DeviceState, now: float, tries: int | None = None
                ) -> Sent:
        """Answer a server frame of this role as the protocol's table says."""
        reply = REPLY[role]
        assert reply is not None
        return self._send(state, reply, now, tries)

    def _send(self, state: DeviceState, payload: bytes, now: float, tries: int | None = None
              ) -> Sent:
        self.tx += 1
        if state is DeviceState.WAITING_TERM and self.state is not state:
            self.waiting_term_since = now
        self.state = state
        self._last_frame = Frame(self.mac, self.server or ZERO_MAC, self.tx, self.rx, payload)
        interval, default_tries = _RESEND[state]
        self._resends_left = tries if tries is not None else default_tries
        self._resend_at = now + interval
        return [(self.port or 0, self._last_frame)]

    def _announce(self) -> Sent:
        payload = messages.build_dscv(self.announcement)
        return [(i, Frame(mac, ZERO_MAC, 1, 0, payload)) for i, mac in enumerate(self.macs)]

    def power_off(self, reason: str) -> None:
        """Emulated fault: the board goes silent for good."""
        self._abort(reason)

    def reboot(self, now: float) -> None:
        """Emulated fault: the board restarts the boot image and announces itself again."""
        self.reboots += 1
        self.waiting_term_since = None
        self.files = []
        self.keep = False
        self.installed_key = None
        self._restart_discovery(now)

    def _restart_discovery(self, now: float) -> None:
        self.state = DeviceState.DISCOVERING
        self.tx = self.rx = 0
        self.server = None
        self.port = None
        self._resend_at = now

    def _abort(self, reason: str) -> Sent:
        self.state = DeviceState.ABORTED
        self.abort_reason = reason
        return []
