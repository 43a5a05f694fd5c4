"""RouterOS version numbers: parse and order them.

Forms seen in packages, file names and device announcements: ``7.16.1``,
``7.12``, ``7.6rc3``, ``7.1beta5``, ``7.1alpha2``, ``6.45.9``, ``0.0``,
test builds (``7.15test3``) and development builds (``7.25_ab434``).

Order within one ``major.minor``: development < test < alpha < beta < rc <
final; finals are ordered by patch number, so ``7.6rc3 < 7.6 < 7.6.1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nitools.errors import UsageError

# Rank of each release type within one major.minor.
RELEASE_RANKS = {"dev": 0, "test": 1, "alpha": 2, "beta": 3, "rc": 4, "final": 5}

_VERSION_RE = re.compile(
    r"""^(?P<major>\d{1,3})\.(?P<minor>\d{1,3})
        (?:
            \.(?P<patch>\d{1,3})                       # final with patch: 7.16.1
          | (?P<tag>alpha|beta|rc|test|final)(?P<num>\d{0,3})  # 7.6rc3, 7.1beta5
          | _ab(?P<build>\d{1,6})                      # development: 7.25_ab434
        )?
        (?:\s*\(\w+\))?$                               # "7.23_ab650 (development)"
    """,
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True, order=True)
class RouterOSVersion:
    """A parsed RouterOS version; instances compare in release order."""

    sort_key: tuple[int, int, int, int] = field(repr=False)
    text: str = field(compare=False)

    @property
    def major(self) -> int:
        return self.sort_key[0]

    @property
    def minor(self) -> int:
        return self.sort_key[1]

    @property
    def release(self) -> str:
        rank = self.sort_key[2]
        return next(name for name, value in RELEASE_RANKS.items() if value == rank)

    @property
    def number(self) -> int:
        """Patch number of a final, or the pre-release / build number otherwise."""
        return self.sort_key[3]

    def __str__(self) -> str:
        return self.text

    @classmethod
    def from_parts(cls, major: int, minor: int, release: str, number: int) -> RouterOSVersion:
        if release == "final":
            text = f"{major}.{minor}" + (f".{number}" if number else "")
        elif release == "dev":
            text = f"{major}.{minor}_ab{number}"
        else:
            text = f"{major}.{minor}{release}{number}"
        return cls((major, minor, RELEASE_RANKS[release], number), text)


def parse_version(text: str) -> RouterOSVersion:
    """Parse a RouterOS version string; raise UsageError if it is not one."""
    match = _VERSION_RE.match(text.strip())
    if not match:
        raise UsageError(
            f"'{text}' is not a RouterOS version: use a form like 7.16.1, 7.12 or 7.6rc3"
        )
    major, minor = int(match["major"]), int(match["minor"])
    if match["patch"] is not None:
        return RouterOSVersion.from_parts(major, minor, "final", int(match["patch"]))
    if match["tag"] is not None:
        tag = match["tag"].lower()
        return RouterOSVersion.from_parts(major, minor, tag, int(match["num"] or 0))
    if match["build"] is not None:
        return RouterOSVersion.from_parts(major, minor, "dev", int(match["build"]))
    return RouterOSVersion.from_parts(major, minor, "final", 0)


def try_parse_version(text: str | None) -> RouterOSVersion | None:
    """Like parse_version, but None for empty or unparsable text."""
    if not text:
        return None
    try:
        return parse_version(text)
    except UsageError:
        return None
