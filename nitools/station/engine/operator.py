"""What an operator may ask of a running station, one board at a time, and the answer
(docs/station.md, "Operator commands"). The engine carries the actions out on its own
loop; the control socket, the HTTP API and the web view only pass them on."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Action(enum.Enum):
    APPROVE = "approve"  # a held board is offered its install now
    SKIP = "skip"  # a board not yet offered is never offered in this run
    REINSTALL = "reinstall"  # forget --once / -o for it: installed when it next announces
    REBOOT = "reboot"  # a board waiting after its install gets TERM


class Verdict(enum.Enum):
    DONE = "done"
    UNKNOWN = "unknown"  # no board with this MAC is known to this run
    CONFLICT = "conflict"  # the action does not fit the board's phase


@dataclass(frozen=True)
class Acted:
    """The answer to one action: what was done, and the board's phase now."""

    verdict: Verdict
    phase: str  # the board's phase after the action ("" for an unknown board)
    message: str
