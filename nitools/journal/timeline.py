"""A board's timeline (docs/verify.md) as the journal keeps it: steps in time order, a
step repeated at once kept once with how often it came (``dhcp ×37``), and at most
MAX_STEPS steps, the first and the last kept. Strangers can write steps in a board's
name (BOOTP requests with its MAC); a row must stay small and cheap all the same."""

from __future__ import annotations

import bisect
from typing import Any

MAX_STEPS = 64  # a real board's timeline has about ten
_FIRST = MAX_STEPS // 4  # kept from the start when the middle must go


def add_step(steps: list[dict[str, Any]], name: str, at: float, by: str | None = None,
             detail: str | None = None) -> None:
    """Put a step in its place by time (dnsmasq's log may come late); a repeat of the step
    before it is counted there; past MAX_STEPS, the oldest of the middle goes. ``by``: who
    asked for it (an operator's action); ``detail``: what the board said (its host name)."""
    index = bisect.bisect_right([step["at"] for step in steps], at) \
        if steps and at < steps[-1]["at"] else len(steps)
    before = steps[index - 1] if index else None
    if before is not None and before["event"] == name:
        before["times"] = before.get("times", 1) + 1
        return
    step: dict[str, Any] = {"event": name, "at": at}
    if by:
        step["by"] = by
    if detail:
        step["detail"] = detail
    steps.insert(index, step)
    if len(steps) > MAX_STEPS:
        del steps[_FIRST]


def step_text(step: dict[str, Any]) -> str:
    """``dhcp``, or ``dhcp ×37`` for a step that came 37 times in a row."""
    times = step.get("times", 1)
    text = step["event"] if times == 1 else f"{step['event']} ×{times}"
    said = step.get("by") or step.get("detail")
    return f"{text} ({said})" if said else text
