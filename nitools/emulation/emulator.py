"""``nitools emulate``: emulated RouterBoards on a link, with fault injection.

Each board is a DeviceSession (the board's own protocol rules); the
EmulatorCore routes frames to them by MAC, drops, duplicates or delays frames
on request (seeded, so runs repeat); the runner (the station's own loop) moves
them to and from a socket; the Emulator writes what each board received.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nitools.emulation.mndp_speaker import MndpSpeaker
from nitools.netinstall.device import DeviceProfile, DeviceSession, DeviceState
from nitools.netinstall.frame import Frame, format_mac
from nitools.netinstall.messages import Announcement
from nitools.wire.link import Link, local_admin_mac
from nitools.wire.runner import Runner

LINGER = 15.0  # seconds booted boards keep announcing (and answering) once each announced
SOFTWARE_ID_ALPHABET = "TN0BYX18S5HZ4IA67DGF3LPCJQRUK9MW2VE"  # the board's key alphabet
_TRANSFER_STATES = (DeviceState.BETWEEN_FILES, DeviceState.IN_FILE, DeviceState.STARTED)


@dataclass(frozen=True)
class Faults:
    drop: float = 0.0  # probability that a frame is lost, each direction
    duplicate: float = 0.0  # probability that a frame the board sends goes out twice
    seed: int = 0
    link_delay: float = 0.0  # seconds each frame takes on the wire, each way, in order
    chunk_delay: float = 0.0  # seconds a board needs per data chunk, one at a time
    die_after_bytes: int | None = None  # the board goes silent (power loss) after this
    reboot_after_bytes: int | None = None  # the board restarts once, mid-install
    reset_fraction: float = 0.0  # this share of boards restarts once, at a random point
    reset_within: int = 1024 * 1024  # ... within the first this many file bytes
    term_loss: float = 0.0  # seconds after its first WTRM during which a board loses TERMs


@dataclass(frozen=True)
class BoardSpec:
    model: str = "RB5009UG+S+"
    arch: str = "arm64"
    min_version: str = "7.12"
    image_version: str | None = "7.16.1"  # None: a v6 boot image (six DSCV fields)
    software_id: str | None = None  # None: made up per board
    key: str | None = None  # None: made up per board; "" for none
    ports: int = 1
    format_time: float = 0.0
    key_required: bool = False
    image_too_old: bool = False
    accepted_keys: tuple[str, ...] = ()  # licence keys the board takes besides its own


def make_software_id(rng: random.Random) -> str:
    pick = "".join(rng.choice(SOFTWARE_ID_ALPHABET) for _ in range(8))
    return f"{pick[:4]}-{pick[4:]}"


def make_key(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(64)).decode()


def make_boards(spec: BoardSpec, count: int, seed: int = 0, now: float = 0.0,
                source_port: int = 5000) -> list[DeviceSession]:
    rng = random.Random(seed)
    boards = []
    for index in range(count):
        announcement = Announcement(
            spec.software_id if spec.software_id is not None else make_software_id(rng),
            spec.key if spec.key is not None else make_key(rng),
            spec.model, spec.arch, spec.min_version, spec.image_version)
        profile = DeviceProfile(announcement, spec.format_time, spec.key_required,
                                spec.image_too_old, source_port, spec.accepted_keys)
        macs = [local_admin_mac(seed * 4096 + index * 16 + port + 1) for port in range(spec.ports)]
        boards.append(DeviceSession(macs, profile, now))
    return boards


def safe_file_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._+-]", "_", name)[:80]
    return cleaned if cleaned.strip(".") else "_"


class EmulatorCore:
    """The emulated boards as one pure machine for the runner: frames and time in,
    the boards' frames out, with seeded loss, duplication and delays."""

    def __init__(self, boards: list[DeviceSession], faults: Faults = Faults()) -> None:
        self.boards = boards
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.frames_dropped = 0
        self.frames_duplicated = 0
        self.stopped = False
        self.own_macs = frozenset(mac for board in boards for mac in board.macs)
        # A board only takes frames addressed to one of its ports (docs/protocol.md §2.3),
        # so route by MAC.
        self._ports: dict[bytes, tuple[DeviceSession, int]] = {}
        for board in boards:
            for port, mac in enumerate(board.macs):
                self._ports[mac] = (board, port)
        # Without delays, frames go straight through: no queues on the hot path.
        self._direct = not (faults.link_delay or faults.chunk_delay)
        # Boards that restart once mid-install, and after how many file bytes.
        self._reset_at: dict[int, int] = {}
        if faults.reboot_after_bytes is not None:
            self._reset_at = {id(b): faults.reboot_after_bytes for b in boards}
        elif faults.reset_fraction:
            chooser = random.Random(faults.seed ^ 0x5EED)
            for board in boards:
                if chooser.random() < faults.reset_fraction:
                    self._reset_at[id(board)] = chooser.randrange(1, faults.reset_within)
        self._watch_chunks = faults.die_after_bytes is not None or bool(self._reset_at)
        self._inbound: deque[tuple[float, Frame]] = deque()  # on the wire towards boards
        self._outbound: deque[tuple[float, Frame]] = deque()  # on the wire from boards
        self._backlog: dict[int, deque[tuple[Frame, int]]] = {id(b): deque() for b in boards}
        self._busy_until: dict[int, float] = {id(b): 0.0 for b in boards}
        self._rebooted: set[int] = set()

    # ---------------------------------------------------------------- machine

    def receive(self, frame: Frame, now: float, port: str | None = None) -> list[Frame]:
        if self._lost():
            return []
        if not self._direct:
            self._inbound.append((now + self.faults.link_delay, frame))
            return []
        target = self._ports.get(frame.dst)
        if target is None:
            return []
        board, port = target
        if self.faults.term_loss and self._term_lost(board, frame, now):
            return []
        if self._watch_chunks:
            before = board.bytes_received
            sent = board.receive(port, frame, board.profile.source_port, now)
            if board.bytes_received > before:
                self._after_chunk(board, now)
        else:
            sent = board.receive(port, frame, board.profile.source_port, now)
        return self._on_wire(sent)

    def poll(self, now: float) -> list[Frame]:
        out: list[Frame] = []
        if not self._direct:
            self._deliver_delayed(now)
        for board in self.boards:
            deadline = board.next_deadline()
            if deadline is not None and deadline <= now:
                if self._direct:
                    out += self._on_wire(board.poll(now))
                else:
                    self._queue(board.poll(now), now)
        while self._outbound and self._outbound[0][0] <= now:
            out.append(self._outbound.popleft()[1])
        return out

    def next_deadline(self) -> float | None:
        deadlines = [d for b in self.boards if (d := b.next_deadline()) is not None]
        if self._inbound:
            deadlines.append(self._inbound[0][0])
        if self._outbound:
            deadlines.append(self._outbound[0][0])
        deadlines += [self._busy_until[id(b)] for b in self.boards if self._backlog[id(b)]]
        return min(deadlines) if deadlines else None

    def busy(self) -> bool:
        return any(b.state in _TRANSFER_STATES for b in self.boards)

    def done(self, now: float) -> bool:
        return self.stopped or self.all_finished()

    def all_finished(self) -> bool:
        return all(board.finished for board in self.boards)

    def request_stop(self, now: float) -> None:
        self.stopped = True

    def close(self, now: float) -> None:
        pass

    def take_events(self) -> list[Any]:
        return []

    def take_requests(self) -> list[Any]:
        return []

    def prepared(self, mac: bytes, result: Any, now: float) -> list[Frame]:
        return []

    # ---------------------------------------------------------------- faults

    def _deliver_delayed(self, now: float) -> None:
        while self._inbound and self._inbound[0][0] <= now:
            _, frame = self._inbound.popleft()
            target = self._ports.get(frame.dst)
            if target is not None:
                board, port = target
                self._backlog[id(board)].append((frame, port))
        for board in self.boards:
            backlog = self._backlog[id(board)]
            while backlog and self._busy_until[id(board)] <= now:
                frame, port = backlog.popleft()
                if self._term_lost(board, frame, now):
                    continue
                before = board.bytes_received
                sent = board.receive(port, frame, board.profile.source_port, now)
                if board.bytes_received > before:  # a data chunk: the board works on it
                    self._after_chunk(board, now)
                    if self.faults.chunk_delay:
                        self._busy_until[id(board)] = now + self.faults.chunk_delay
                        self._queue(sent, now + self.faults.chunk_delay)
                        continue
                self._queue(sent, now)

    def _on_wire(self, sent: list[tuple[int, Frame]]) -> list[Frame]:
        """The frames the boards' side puts on the wire now, after loss and duplication."""
        if not (self.faults.drop or self.faults.duplicate):
            return [frame for _port, frame in sent]
        return [frame for _port, frame in sent for _ in range(self._copies())]

    def _queue(self, sent: list[tuple[int, Frame]], ready: float) -> None:
        for frame in self._on_wire(sent):
            self._outbound.append((ready + self.faults.link_delay, frame))

    def _copies(self) -> int:
        """How many copies of a frame the board's side puts on the wire: 0, 1 or 2."""
        if self._lost():
            return 0
        if self.faults.duplicate and self.rng.random() < self.faults.duplicate:
            self.frames_duplicated += 1
            return 2
        return 1

    def _lost(self) -> bool:
        if self.faults.drop and self.rng.random() < self.faults.drop:
            self.frames_dropped += 1
            return True
        return False

    def _term_lost(self, board: DeviceSession, frame: Frame, now: float) -> bool:
        """The term_loss fault: TERMs vanish for a while after the board's first WTRM."""
        since = board.waiting_term_since
        return (self.faults.term_loss > 0 and since is not None
                and board.state is DeviceState.WAITING_TERM
                and now < since + self.faults.term_loss
                and bytes(frame.payload[:4]) == b"TERM")

    def _after_chunk(self, board: DeviceSession, now: float) -> None:
        faults = self.faults
        if faults.die_after_bytes is not None and board.bytes_received >= faults.die_after_bytes:
            board.power_off("emulated power loss")
            return
        reset_at = self._reset_at.get(id(board))
        if reset_at is not None and id(board) not in self._rebooted \
                and board.bytes_received >= reset_at:
            self._rebooted.add(id(board))
            board.reboot(now)


class Emulator:
    """Emulated boards on a link: the core, driven by the runner."""

    def __init__(self, link: Link, boards: list[DeviceSession], faults: Faults = Faults(),
                 extra_links: list[Link] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 speaker: MndpSpeaker | None = None, linger: float | None = LINGER) -> None:
        self.core = EmulatorCore(boards, faults)
        self.boards = boards
        self.clock = clock
        self.started = clock()
        self.speaker = speaker  # boards announce themselves after the reboot (MNDP)
        self.linger = linger  # seconds they go on once each announced; None: until stop()
        self._stopped = False
        source_port = boards[0].profile.source_port if boards else None
        # extra_links: send-only copies (a v7 board's port 59813)
        self.runner = Runner(link, self.core, clock=clock, source_port=source_port,
                             mirrors=extra_links or (),
                             on_tick=speaker.tick if speaker is not None else None)

    def run(self, timeout: float | None = None) -> None:
        """Until every board has finished (and, with a speaker, announced itself after
        its reboot, then lingered to answer requests), the timeout passes, or stop()."""
        end = None if timeout is None else self.clock() + timeout
        self.runner.run(timeout)
        if self.speaker is None:
            return
        linger_until = None
        while not self._stopped and (end is None or self.clock() < end):
            self.speaker.tick()
            if self.speaker.all_announced() and self.linger is not None:
                linger_until = linger_until or self.clock() + self.linger
                if self.clock() >= linger_until:
                    return
            time.sleep(0.05)

    def stop(self) -> None:
        self._stopped = True
        self.runner.request_stop()

    def all_finished(self) -> bool:
        return self.core.all_finished()

    # ---------------------------------------------------------------- output

    def write_files(self, out_dir: Path) -> None:
        for board in self.boards:
            if not board.files:
                continue
            folder = out_dir / format_mac(board.macs[0]).replace(":", "-")
            folder.mkdir(parents=True, exist_ok=True)
            for received in board.files:
                target = folder / safe_file_name(received.name)
                temporary = target.with_name(target.name + ".part")
                temporary.write_bytes(received.data)
                temporary.replace(target)

    def summary(self) -> dict[str, Any]:
        boards = []
        for board in self.boards:
            boards.append({
                "macs": [format_mac(m) for m in board.macs],
                "answered_mac": format_mac(board.mac) if board.port is not None else None,
                "model": board.announcement.model,
                "arch": board.announcement.arch,
                "software_id": board.announcement.software_id,
                "state": board.state.value,
                "installed": board.state is DeviceState.REBOOTED,
                "abort_reason": board.abort_reason,
                "offers_seen": board.offers_seen,
                "keep_config": board.keep,
                "licence_key_installed": board.installed_key is not None,
                "installed_key": board.installed_key,
                "reboots": board.reboots,
                "skipped_remaining_files": board.skipped_remaining_files,
                "files": [{"name": f.name, "declared_size": f.declared_size,
                           "received": len(f.data), "complete": f.complete,
                           "sha256": f.sha256} for f in board.files],
            })
        return {
            "boards": boards,
            "all_installed": all(b["installed"] for b in boards),
            "frames_dropped": self.core.frames_dropped,
            "frames_duplicated": self.core.frames_duplicated,
            "seconds": round(self.clock() - self.started, 3),
        }

    def summary_json(self) -> str:
        return json.dumps(self.summary(), indent=2)
