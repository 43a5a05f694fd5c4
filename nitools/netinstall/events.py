"""What happens to a board, as typed, frozen events, and how an attempt ends.

One vocabulary for the station core (which emits them), the journal, the log
and the live table (which consume them). Consumers never reach back into a
session: everything they show or record is in the event.

Order for a board that installs: Found, Validated (Warned...), Offered,
Accepted, Formatting, UploadStarted, FileStarted / Progress ...,
FilesAcknowledged, RebootSent, Finished. Finished is always the last event of
an attempt on the wire; a board that rebooted may get one InService later (what it
announced once RouterOS ran). Skipped and Released stand alone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nitools.netinstall.messages import Announcement


class Outcome(enum.Enum):
    """How an attempt ended; the values are what the journal stores."""

    REBOOTED = "rebooted"  # every file acknowledged, TERM taken: the board rebooted
    UNCONFIRMED = "unconfirmed"  # every file acknowledged, but the board kept asking for TERM
    FAILED = "failed"  # the install started and did not complete
    REFUSED = "refused"  # never offered: files missing or not fit for the board
    INTERRUPTED = "interrupted"  # the station stopped mid-install
    RELEASED = "released"  # a board found waiting for TERM (left by an earlier run) got it
    # After the reboot (docs/verify.md): what the board announced once RouterOS ran.
    VERIFIED = "verified"  # it announced the version installed (and the script's identity)
    WRONG_VERSION = "wrong-version"  # it announced another version: the install did not take
    UNVERIFIED = "unverified"  # --verify: not heard (or not as expected) in time
    SILENT = "silent"  # got its boot image (TFTP) and never announced itself in netinstall
    SKIPPED = "skipped"  # never offered: an operator skipped it, or it left while held
    BOOTED = "booted"  # after the reboot it asked for an address (DHCP); no version heard

    @property
    def success(self) -> bool:
        return self in (Outcome.REBOOTED, Outcome.VERIFIED)

    @property
    def installed(self) -> bool:
        """The board holds every file (older journals say "installed")."""
        return self in (Outcome.REBOOTED, Outcome.UNCONFIRMED)


class FailureCause(enum.Enum):
    """Why an attempt did not end with a confirmed reboot, as one word: metrics count
    them (label ``cause``) and the journal keeps them beside the reason text."""

    OFFER_IGNORED = "offer-ignored"  # no YACK: a key-required image, or another server
    KEY_REJECTED = "key-rejected"  # NACK: the licence key in the offer was refused
    FORMAT_TIMEOUT = "format-timeout"  # no STRT: an image too old, or a slow format
    STALLED = "stalled"  # the board stopped answering during the upload
    FILES_CUT_SHORT = "files-cut-short"  # the board ended the file list itself (WTRM)
    UNEXPECTED_REPLY = "unexpected-reply"  # an answer the protocol does not allow there
    BOARD_RESTARTED = "board-restarted"  # it announced itself again mid-install
    REBOOT_UNCONFIRMED = "reboot-unconfirmed"  # every file acknowledged, TERM not taken
    FILES_REFUSED = "files-refused"  # its files were missing or not fit for it
    NOT_OFFERED = "not-offered"  # no valid offer could be made (a forged announcement)
    STATION_STOPPED = "station-stopped"  # the station stopped before the attempt ended
    CONFLICTING_ANSWERS = "conflicting-answers"  # frames in the board's name contradict it
    NOT_IN_INVENTORY = "not-in-inventory"  # --inventory has no row for it: left alone
    INVENTORY_UNAVAILABLE = "inventory-unavailable"  # the inventory server could not say
    NEVER_ANNOUNCED = "never-announced"  # booted its image, never announced in netinstall
    BOOT_IMAGE_FAILED = "boot-image-failed"  # its boot image transfer (TFTP) failed
    OPERATOR = "operator"  # an operator skipped it (nitools skip, the API, the web view)
    LEFT_WHILE_HELD = "left-while-held"  # held for approval, it stopped announcing itself


@dataclass(frozen=True, slots=True)
class BoardEvent:
    at: float  # the station's monotonic clock
    mac: bytes  # the port MAC the station answers


@dataclass(frozen=True, slots=True)
class Found(BoardEvent):
    """A new board announced itself; its files are being prepared."""

    announcement: Announcement
    port: str | None = None  # the interface it announced on (None: a link without one)


@dataclass(frozen=True, slots=True)
class Skipped(BoardEvent):
    """A board left alone by policy (``--once``)."""

    announcement: Announcement
    reason: str


@dataclass(frozen=True, slots=True)
class SentFile:
    name: str
    size: int
    sha256: str
    source: str


@dataclass(frozen=True, slots=True)
class Validated(BoardEvent):
    """Every file is read and checked; the board is offered an install next."""

    files: tuple[SentFile, ...]
    configuration: str  # default / empty / script / keep (+ extras)
    inventory_key: str | None = None  # the inventory row it got: "mac=...", "model=...", "*"
    template: str | None = None  # the template its first-boot script was made from
    script: bytes | None = None  # the first-boot script sent (autorun.scr), if any


@dataclass(frozen=True, slots=True)
class Warned(BoardEvent):
    """A finding that does not stop the install."""

    text: str


@dataclass(frozen=True, slots=True)
class Offered(BoardEvent):
    pass


@dataclass(frozen=True, slots=True)
class Accepted(BoardEvent):
    pass


@dataclass(frozen=True, slots=True)
class Formatting(BoardEvent):
    pass


@dataclass(frozen=True, slots=True)
class UploadStarted(BoardEvent):
    total_bytes: int


@dataclass(frozen=True, slots=True)
class FileStarted(BoardEvent):
    name: str


@dataclass(frozen=True, slots=True)
class Progress(BoardEvent):
    bytes_acked: int
    total_bytes: int


@dataclass(frozen=True, slots=True)
class FilesAcknowledged(BoardEvent):
    """The board acknowledged the last frame of the file list."""

    total_bytes: int


@dataclass(frozen=True, slots=True)
class RebootSent(BoardEvent):
    pass


@dataclass(frozen=True, slots=True)
class NotServed(BoardEvent):
    """A board announced itself and a setting keeps the station from it (told once per MAC,
    at a bounded rate): ``--mac`` names other boards."""

    reason: str


@dataclass(frozen=True, slots=True)
class Held(BoardEvent):
    """Its files are checked and its offer ready; it stays in etherboot, not offered,
    until an operator approves it (``--hold``)."""


@dataclass(frozen=True, slots=True)
class WaitingForReboot(BoardEvent):
    """Every file acknowledged; TERM is held back until an operator reboots it
    (``--after-install wait``). Its WTRMs are taken in silence: any answer but TERM
    would leave it unable to take TERM (docs/protocol.md §3.11)."""


@dataclass(frozen=True, slots=True)
class OperatorActed(BoardEvent):
    """An operator's action on this board, as the station carried it out."""

    action: str  # approve, skip, reinstall, reboot
    by: str  # who asked: "socket uid 0", "token from 10.0.0.5"


@dataclass(frozen=True, slots=True)
class Released(BoardEvent):
    """A board that waited for TERM without a session here (an earlier run, a station
    that crashed, a failed session) was answered with TERM; if it announces itself again
    later, it is offered an install like any board."""

    port: str | None = None


@dataclass(frozen=True, slots=True)
class Finished(BoardEvent):
    """The attempt is over; the one record of how it went."""

    outcome: Outcome
    reason: str
    cause: FailureCause | None = None  # None: rebooted, or released
    bytes_acked: int = 0
    total_bytes: int = 0
    retransmissions: int = 0
    resent_on_timer: int = 0  # of the retransmissions, those our own timer sent
    seconds: float = 0.0  # since the board was found
    upload_rate: float | None = None  # file bytes per second, format end to last ack
    macs: tuple[bytes, ...] = ()  # every port MAC the board announced with


@dataclass(frozen=True, slots=True)
class InService(BoardEvent):
    """After a reboot: what the board announced once RouterOS ran (MNDP), or that it was
    not heard in time. ``outcome`` is VERIFIED, WRONG_VERSION, UNVERIFIED, or REBOOTED
    (not heard, and --verify not asked: the row stays rebooted, saying so)."""

    outcome: Outcome
    reason: str
    version: str = ""
    identity: str = ""
    board: str = ""
    uptime: int | None = None  # seconds, as the board announced it
    seconds: float | None = None  # from the reboot (TERM) to its first announcement


class NetbootKind(enum.Enum):
    """What dnsmasq did for a board; the values are its timeline's steps (docs/verify.md)."""

    DHCP = "dhcp"  # a BOOTP/DHCP answer with its boot file
    TFTP = "tftp"  # its boot image sent
    TFTP_FAILED = "tftp-failed"  # its boot image not found or not sent
    NO_IMAGE = "no-image"  # a vendor class with no boot image here
    NO_ADDRESS = "no-address"  # the address range was full: it got no answer
    # A DHCP request with a message type and no boot vendor class: an ordinary DHCP
    # client, such as RouterOS's on ether1 after a reboot (the engine decides whose)
    DHCP_CLIENT = "dhcp-client"
    DHCP_AFTER_BOOT = "dhcp-after-boot"  # that request, from a board after its reboot


@dataclass(frozen=True, slots=True)
class Netboot(BoardEvent):
    """What dnsmasq did for a board before netinstall (``nitools station``)."""

    kind: NetbootKind
    detail: str
    port: str | None = None  # the interface dnsmasq served it on
    address: str | None = None  # the address it was given (DHCP)


@dataclass(frozen=True, slots=True)
class Silent(BoardEvent):
    """A board that got its boot image (or failed to) and never announced itself in
    netinstall within --announce-timeout: the likely causes, in order."""

    reason: str
    cause: FailureCause
    port: str | None = None


# ------------------------------------------------------------------- phases


class BoardPhase(enum.Enum):
    """Where a board is on its way to an outcome: one vocabulary for the terminal, the
    live table, the web view and the metrics (label ``phase``)."""

    PREPARING = "preparing"  # found: its files are being read and checked
    OFFERING = "offering"  # files checked: offered an install
    FORMATTING = "formatting"  # it accepted: formatting its disk
    UPLOADING = "uploading"  # format done: files on the wire
    INSTALLING = "installing"  # every file acknowledged: the board installs them
    REBOOTING = "rebooting"  # TERM sent: waiting for it to confirm the reboot
    HELD = "held"  # files checked: in etherboot until an operator approves it (--hold)
    WAITING = "waiting"  # installed: TERM held back until an operator reboots it


# The phase a board is in after each kind of event (the events not listed leave it be).
PHASE_AFTER: dict[type[BoardEvent], BoardPhase] = {
    Found: BoardPhase.PREPARING, Validated: BoardPhase.OFFERING,
    Offered: BoardPhase.OFFERING, Accepted: BoardPhase.FORMATTING,
    Formatting: BoardPhase.FORMATTING, UploadStarted: BoardPhase.UPLOADING,
    FilesAcknowledged: BoardPhase.INSTALLING, RebootSent: BoardPhase.REBOOTING,
    Held: BoardPhase.HELD, WaitingForReboot: BoardPhase.WAITING,
}

# The journal's timeline steps (past tense: what had happened by then), by event; the
# netboot steps are the Netboot events' own kinds (docs/verify.md).
STEP_AFTER: dict[type[BoardEvent], str] = {
    Offered: "offered", UploadStarted: "formatted", FilesAcknowledged: "uploaded",
    Held: "held", WaitingForReboot: "waiting",
    # TERM sent: the reboot's own time (`rebooted` is its confirmation, 2.5 s of silence later)
    RebootSent: "term-sent",
}
