"""The station's control socket: `nitools approve`, `skip`, `reinstall`, `reboot` and
`boards` talk to the running station through it (docs/station.md, "Operator commands").

One Unix socket per station name, in ``/run/nitools/control/`` for root (else
``$XDG_RUNTIME_DIR/nitools/control/``), in a folder only its owner can enter, the socket itself
mode 0600: whoever can open it may act on the station's boards. A request is one JSON
line, ``{"action": "approve", "macs": ["02:..."], "all": false}`` (or ``{"action":
"boards"}``); the answer is one JSON line. Who asked (the peer's uid and pid, from the
kernel) goes into the journal with each action."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import struct
import threading
from pathlib import Path
from typing import Any

from nitools.errors import NitoolsError, UsageError
from nitools.netinstall.frame import format_mac, parse_mac
from nitools.station.engine.operator import Action, Verdict
from nitools.station.run import OperatorDesk

log = logging.getLogger("nitools.control")

MAX_REQUEST = 64 << 10  # one request line: a few MACs
SOCKET_TIMEOUT = 10.0
BOARDS = "boards"  # the request that lists the boards (every other is an Action)


class ControlError(NitoolsError):
    """The station's control socket cannot be used."""


def control_folder() -> Path:
    """Where this user's stations keep their control sockets."""
    if os.geteuid() == 0:
        return Path("/run/nitools/control")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "nitools" if runtime else Path(f"/tmp/nitools-{os.geteuid()}")
    return base / "control"


def control_path(station: str) -> Path:
    """The socket of the station of this name (names may hold ':' and '+')."""
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", station)[:100] or "station"
    return control_folder() / f"{safe}.sock"


def answers(path: Path) -> bool:
    """A station listens on this control socket (not one a dead station left)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def station_sockets() -> list[Path]:
    folder = control_folder()
    return sorted(folder.glob("*.sock")) if folder.is_dir() else []


def answer_of(mac: bytes, verdict: Verdict, phase: str, message: str) -> dict[str, Any]:
    return {"mac": format_mac(mac) if mac else "", "verdict": verdict.value, "phase": phase,
            "message": message}


def carry_out(desk: OperatorDesk, request: Any, by: str) -> dict[str, Any]:
    """One request, from the socket or the HTTP API: the answer document."""
    if not isinstance(request, dict) or not isinstance(request.get("action"), str):
        raise UsageError('a request is {"action": ..., "macs": [...]}')
    if request["action"] == BOARDS:
        return {"boards": desk.boards()}
    try:
        action = Action(request["action"])
    except ValueError:
        raise UsageError(f"unknown action {request['action']!r}: one of "
                         f"{', '.join(a.value for a in Action)}, {BOARDS}") from None
    macs = request.get("macs") or []
    if not isinstance(macs, list) or not all(isinstance(m, str) for m in macs):
        raise UsageError("macs is a list of MAC addresses")
    if request.get("all"):
        if action is not Action.APPROVE or macs:
            raise UsageError("--all approves every held board: give it alone, to approve")
        results = [answer_of(mac, a.verdict, a.phase, a.message)
                   for mac, a in desk.act(action, None, by)]
        return {"results": results}
    if not macs:
        raise UsageError("name at least one board's MAC")
    results = []
    for text in macs:
        mac = parse_mac(text)
        for board, acted in desk.act(action, mac, by):
            results.append(answer_of(board, acted.verdict, acted.phase, acted.message))
    return {"results": results}


class ControlServer:
    """The socket, served in a thread of its own; ``close()`` removes it."""

    def __init__(self, station: str, desk: OperatorDesk) -> None:
        self.path = control_path(station)
        self.desk = desk
        folder = self.path.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ControlError(f"cannot make {folder} for the control socket: "
                               f"{exc.strerror}") from None
        if folder.stat().st_uid != os.geteuid() or folder.stat().st_mode & 0o077:
            raise ControlError(f"{folder} is not this user's own folder (mode 0700): the "
                               "control socket is not made there; fix its owner and mode")
        if self._taken():
            # Another station of this name runs here (another network namespace, a
            # container sharing /run): this one answers under its own process ID.
            self.path = self.path.with_name(f"{self.path.stem}-{os.getpid()}.sock")
            log.warning("another station named %s runs on this machine: this one's operator "
                        "commands take --station-name %s", station, self.path.stem)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_mask = os.umask(0o177)  # the socket is born 0600, never briefly wider
        try:
            self.sock.bind(str(self.path))
        finally:
            os.umask(old_mask)
        self.sock.listen(8)
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)

    def _taken(self) -> bool:
        """A live station answers on this path. One left by a station that died is
        removed (nobody listens)."""
        if not self.path.exists():
            return False
        if answers(self.path):
            return True
        self.path.unlink(missing_ok=True)
        return False

    def start(self) -> None:
        self._thread.start()
        log.info("operator commands on %s", self.path)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.path.unlink(missing_ok=True)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._answer, args=(connection,), name="control-client",
                             daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(SOCKET_TIMEOUT)
            try:
                pid, uid, _ = struct.unpack("3i", connection.getsockopt(
                    socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
                request = json.loads(_read_line(connection))
                answer = carry_out(self.desk, request, f"socket uid {uid} pid {pid}")
            except (ValueError, NitoolsError) as exc:
                answer = {"error": str(exc)}
            except OSError:
                return  # the client went away
            with contextlib.suppress(OSError):
                connection.sendall(json.dumps(answer).encode() + b"\n")


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise UsageError("request too long")
    return data


def ask(path: Path, request: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
    """One request to a station's control socket: its answer."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout)
    try:
        client.connect(str(path))
        client.sendall(json.dumps(request).encode() + b"\n")
        data = _read_line(client)
    except PermissionError:
        raise ControlError(f"{path}: permission denied: the station's commands need its "
                           "user (run as root, e.g. with sudo)") from None
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError(f"no station listens on {path}: is it running? (name it with "
                           "--station-name)") from None
    except OSError as exc:
        raise ControlError(f"{path}: {exc.strerror or exc}") from None
    finally:
        client.close()
    try:
        answer = json.loads(data)
    except ValueError:
        raise ControlError(f"{path}: the station gave no answer") from None
    if "error" in answer:
        raise UsageError(answer["error"])
    return answer
