"""How a station setting is declared: once, as a field of ``StationOptions`` whose
metadata says its flags, help, kind, group, ini key and where its value goes. The click
options (``cli.py``), the ``NITOOLS_*`` variables, the ini keys the station knows, the
merge into ``StationConfig`` and ``--help``'s groups all come from that one place."""

from __future__ import annotations

import enum
from dataclasses import Field, dataclass, field, fields
from typing import Any


class Group(enum.Enum):
    """The sections of ``flash --help`` and ``station --help``, in this order."""

    RUN = "Which boards, and when the run ends"
    BOARD = "What each board gets"
    RELEASE = "RouterOS by version"
    INVENTORY = "Every board its own configuration"
    VERIFY = "Proof in service"
    TIMERS = "Timers and the wire"
    PEOPLE = "What people see"
    NETINSTALL_CLI = "netinstall-cli's flags"


class Kind(enum.Enum):
    """What a value is: how the command line reads and checks it."""

    TEXT = "text"
    OPTION_VALUE = "option-value"  # text that must not look like an option (-c -r)
    FLAG = "flag"
    COUNT = "count"  # -v -v
    FILE = "file"  # an existing regular file
    FOLDER = "folder"  # an existing folder
    PATH = "path"  # a path that need not exist yet
    NUMBER = "number"  # a finite number between low and high
    INTEGER = "integer"  # a whole number between low and high
    CHOICE = "choice"  # one of ``choices``


class Target(enum.Enum):
    """Where the merged value goes (``station.setup.config``)."""

    ENGINE = "engine"  # EngineSettings, by the same name
    TIMING = "timing"  # the sessions' Timing, by the same name
    INSTALL = "install"  # InstallDefaults, by the same name
    RELEASE = "release"  # ReleaseChoice (the ini key may differ: packages)
    STATION = "station"  # StationConfig, by the same name
    COMMAND = "command"  # read by the command itself (what people see, netinstall-cli)


@dataclass(frozen=True)
class Setting:
    flags: tuple[str, ...]
    help: str
    group: Group
    to: Target
    kind: Kind = Kind.OPTION_VALUE
    metavar: str | None = None
    multiple: bool = False
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    ini: str | None = None  # its key in the ini section, if the ini may set it
    shown_default: Any = None  # the default --help shows (the value lives in its target)


def setting(*flags: str, help: str, group: Group, to: Target, default: Any = None,
            secret: bool = False, **more: Any) -> Any:
    """A StationOptions field and its declaration. ``default``: the value when not given
    (None: the ini or the target's own default decides); ``secret``: never in a repr."""
    declared = Setting(flags, help, group, to, **more)
    if declared.multiple and default is None:
        default = ()
    return field(default=default, repr=not secret, metadata={"setting": declared})


def declared(options_type: type) -> list[tuple[Field[Any], Setting]]:
    """Every setting of an options class, in declaration order."""
    return [(f, f.metadata["setting"]) for f in fields(options_type) if "setting" in f.metadata]


def ini_keys(options_type: type) -> tuple[str, ...]:
    """The station-wide keys an ini section may carry (besides the plugin's own)."""
    return tuple(s.ini for _, s in declared(options_type) if s.ini is not None)
