"""What the engine and the per-board plan hand each other: a request for a board's
files (made on the loop), and the answer a worker thread brings back (an install plan,
a refusal, "not yet", or "installed before"). Plain data, so the engine needs nothing
of how files are fetched, checked or rendered."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from nitools.errors import UsageError
from nitools.netinstall.events import FailureCause, SentFile
from nitools.netinstall.messages import Announcement
from nitools.netinstall.protocol import CONFIG_SCRIPT_NAME, MODE_SCRIPT_NAME
from nitools.netinstall.server import InstallFile
from nitools.routeros.findings import Finding
from nitools.routeros.npk import Package


class ConfigMode(enum.Enum):
    """What a board starts with after its install (MikroTik's own choices, docs/protocol.md
    §3.9): the values are the words of the ini, the options and the inventory."""

    DEFAULT = "default"  # no script: RouterOS's default configuration
    EMPTY = "empty"  # an empty autorun.scr: no configuration at all
    SCRIPT = "script"  # the first-boot script as autorun.scr
    KEEP = "keep"  # "keep" in the offer: its old configuration

    @classmethod
    def parse(cls, text: str, where: str) -> ConfigMode:
        """The mode a setting names; UsageError naming ``where`` and the words."""
        try:
            return cls(text.strip())
        except ValueError:
            raise UsageError(f"{where}={text} is not one of "
                             f"{', '.join(mode.value for mode in cls)}") from None


@dataclass(frozen=True)
class PrepareRequest:
    """Files are needed for this board: resolve and check them, then hand the answer to
    the engine's ``prepared``. ``port``: the interface it announced on (None on a link
    with no interfaces). ``check_history`` (``--once``): first ask the journal whether it
    was installed."""

    mac: bytes
    announcement: Announcement
    port: str | None = None
    check_history: bool = False


@dataclass
class InstallPlan:
    """The files for one board, in wire order, already read and checked."""

    files: list[InstallFile]
    packages: list[Package]
    config_mode: ConfigMode
    key: str | None = None  # None: echo the board's own key
    keep: bool = False
    sources: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    inventory_key: str | None = None  # the inventory row the board got
    template: str | None = None  # the template that made its first-boot script
    # Its inventory row's choices over the station's (None: the station's setting)
    hold: bool | None = None
    after_install: str | None = None  # reboot or wait

    @property
    def script(self) -> bytes | None:
        """The first-boot script sent (autorun.scr), if any."""
        return next((f.data for f in self.files if f.name == CONFIG_SCRIPT_NAME), None)

    @property
    def version(self) -> str:
        """The RouterOS version sent (its system package's), or "" with no package."""
        return str(self.packages[0].version) if self.packages else ""

    @property
    def total_bytes(self) -> int:
        return sum(len(f.data) for f in self.files)

    @property
    def description(self) -> str:
        extras = [name for name, present in (("mode script", self.has(MODE_SCRIPT_NAME)),
                                             ("licence key from file", self.key is not None))
                  if present]
        return self.config_mode.value + "".join(f" + {extra}" for extra in extras)

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.files)

    def sent_files(self) -> tuple[SentFile, ...]:
        return tuple(SentFile(f.name, len(f.data), d, s)
                     for f, d, s in zip(self.files, self.digests, self.sources, strict=True))


@dataclass(frozen=True)
class Refusal:
    """Why a board is left untouched (never offered an install). A board the inventory
    does not list (``NOT_IN_INVENTORY``) is left alone for the rest of the run."""

    reason: str
    cause: FailureCause = FailureCause.FILES_REFUSED


@dataclass(frozen=True)
class NotYet:
    """A file this board needs is being fetched for another board: the board waits (it
    keeps announcing) and is prepared again in a moment, holding no worker meanwhile."""

    reason: str


@dataclass(frozen=True)
class InstalledBefore:
    """``--once``: the journal shows this board installed (its row), so it is left alone.
    Looked up by a preparation worker: a slow or stopped database never holds the loop."""

    row: int


Prepared = InstallPlan | Refusal | NotYet | InstalledBefore  # what a worker hands back
