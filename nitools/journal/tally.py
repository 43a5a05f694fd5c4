"""What this run wrote into the journal, for the closing summary: the summary counts the
rows the journal holds (refused as refused, each in-service outcome by its name), naming
the boards, so the terminal never says less or more than the journal."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from nitools.netinstall.events import FailureCause, Outcome

NAMED = 10  # boards named per outcome in the summary; the rest are counted
NEVER_ANSWERED = "never answered an offer"  # failed rows whose cause is offer-ignored

# The order the summary reads in: what went well first.
_ROW_ORDER = (Outcome.REBOOTED.value, Outcome.UNCONFIRMED.value, Outcome.FAILED.value,
              NEVER_ANSWERED, Outcome.REFUSED.value, Outcome.SKIPPED.value,
              Outcome.INTERRUPTED.value, Outcome.SILENT.value, Outcome.RELEASED.value)
NOT_SEEN = "not-seen"  # a rebooted row whose board was not heard in service in time
_SERVICE_ORDER = (Outcome.VERIFIED.value, Outcome.BOOTED.value, Outcome.WRONG_VERSION.value,
                  Outcome.UNVERIFIED.value, NOT_SEEN)


@dataclass
class RunTally:
    rows: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    in_service: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    not_journaled: int = 0  # rows counted past the journal's rate bound (a flood)

    def row(self, outcome: str, cause: str | None, mac: str) -> None:
        """A closed row this run wrote (or kept to write): its outcome and board."""
        if outcome == Outcome.FAILED.value and cause == FailureCause.OFFER_IGNORED.value:
            outcome = NEVER_ANSWERED
        self.rows[outcome].append(mac)

    def service(self, outcome: str, mac: str) -> None:
        """What a rebooted row's board announced in service (its in_service column)."""
        self.in_service[outcome].append(mac)

    def lines(self) -> list[str]:
        """The summary, one line per kind of row, naming the boards."""
        if not self.rows and not self.not_journaled:
            return ["this run's journal: no rows (no board was found)"]
        counts = ", ".join(f"{len(self.rows[o])} {o}" for o in _ordered(self.rows, _ROW_ORDER))
        lines = [f"this run's journal: {counts}"]
        for outcome in _ordered(self.rows, _ROW_ORDER):
            lines.append(f"  {outcome}: {_names(self.rows[outcome])}")
        if self.in_service:
            counts = ", ".join(f"{len(self.in_service[o])} {o}"
                               for o in _ordered(self.in_service, _SERVICE_ORDER))
            lines.append(f"in service: {counts}")
            for outcome in _ordered(self.in_service, _SERVICE_ORDER):
                lines.append(f"  {outcome}: {_names(self.in_service[outcome])}")
        if self.not_journaled:
            lines.append(f"and {self.not_journaled} rows of boards that never answered, "
                         "counted and not journaled (more than the journal's rate bound)")
        return lines


def _ordered(table: dict[str, list[str]], order: tuple[str, ...]) -> list[str]:
    known = [name for name in order if table.get(name)]
    return known + sorted(name for name in table if name not in order and table[name])


def _names(macs: list[str]) -> str:
    shown = ", ".join(macs[:NAMED])
    return shown if len(macs) <= NAMED else f"{shown} and {len(macs) - NAMED} more"
