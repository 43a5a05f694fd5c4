"""A finding: one thing a check noticed, with a level and a message that says what to do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Finding:
    level: str  # error, warning or info
    message: str
    subject: str = ""  # the file it is about
    line: int | None = None  # 1-based line in a script

    def __str__(self) -> str:
        where = self.subject + (f":{self.line}" if self.line else "")
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == ERROR]
