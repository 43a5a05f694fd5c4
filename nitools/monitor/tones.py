"""How a board's result is shown: one tone per phase or outcome, the same in the
terminal's table and the web view (its rows carry the tone; the page colours by it)."""

from __future__ import annotations

from nitools.netinstall.events import BoardPhase, Outcome

GOOD, BAD, WAIT = "good", "bad", "wait"  # WAIT: a board waiting for an operator

_TONES = {
    Outcome.REBOOTED.value: GOOD,
    Outcome.VERIFIED.value: GOOD,
    "installed": GOOD,  # older journals' word for rebooted
    Outcome.FAILED.value: BAD,
    Outcome.UNCONFIRMED.value: BAD,
    Outcome.INTERRUPTED.value: BAD,
    Outcome.REFUSED.value: BAD,
    Outcome.WRONG_VERSION.value: BAD,
    Outcome.UNVERIFIED.value: BAD,
    Outcome.SILENT.value: BAD,
    BoardPhase.HELD.value: WAIT,
    BoardPhase.WAITING.value: WAIT,
}
# Rich styles for the terminal; the web view's are in static/style.css (.tone-good, ...).
TERMINAL_STYLES = {GOOD: "green", BAD: "red", WAIT: "bold blue"}


def tone(result: str) -> str:
    """The tone of a result, or of a phase that waits for an operator ("" for one shown
    plain: released, skipped, not-seen, uploading...)."""
    return _TONES.get(result, "")
