"""The ini file's vocabulary, declared once: its sections, its station-wide keys, the
configuration modes, and the station-wide install defaults that plugins may override
per board. Drop-in compatible with pyNetinstall's file (``[pynetinstall]`` or
``[nitools]``)."""

from __future__ import annotations

import configparser
import enum
import logging
import os
from dataclasses import dataclass, field

from nitools.errors import ConfigError, UsageError
from nitools.station.engine.contract import ConfigMode
from nitools.station.plan.payload import Source

log = logging.getLogger("nitools.config")

DEFAULT_CONFIG = "/etc/nitools.ini"
PYNETINSTALL_CONFIG = "/etc/pynetinstall.ini"  # used when only pyNetinstall's file exists
SECTIONS = ("nitools", "pynetinstall")
CONFIG_MODES = tuple(mode.value for mode in ConfigMode)  # the words, for choices


class Unlisted(enum.Enum):
    """``--unlisted``: what a board the inventory does not list gets."""

    REFUSE = "refuse"  # left alone (the default)
    DEFAULT = "default"  # installed with the station's own settings


UNLISTED_CHOICES = tuple(choice.value for choice in Unlisted)

@dataclass(frozen=True)
class InstallDefaults:
    """Station-wide choices (flash options and ini keys); plugins may override per board."""

    config_mode: ConfigMode | None = None  # None: follow the plugin's / ini's config
    script: Source | None = None  # a first-boot script replacing the ini's config=
    key_file: Source | None = None
    mode_script: Source | None = None
    branding: Source | None = None
    # Per board (docs/inventory.md): read and checked at start by station.per_board.
    inventory: str | None = None
    config_template: str | None = None
    unlisted: str | None = None
    inventory_settings: str | None = None  # what a URL inventory may set
    inventory_token: str | None = field(default=None, repr=False)  # sent, never shown
    device_mode: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.config_mode, str):  # the ini's or the command line's word
            object.__setattr__(self, "config_mode",
                               ConfigMode.parse(self.config_mode, "config_mode"))


class IniConfig(configparser.ConfigParser):
    """A ConfigParser that remembers which file it came from."""

    def __init__(self, path: str = "") -> None:
        super().__init__(interpolation=None)
        self.path = os.path.abspath(path) if path else ""


def config_file(path: str, fallback: str = PYNETINSTALL_CONFIG) -> str:
    """The default ini, or pyNetinstall's default when only that one exists."""
    if path == DEFAULT_CONFIG and not os.path.exists(path) and os.path.exists(fallback):
        log.info("%s not found: using pyNetinstall's %s", path, fallback)
        return fallback
    return path


MAX_INI_BYTES = 1 << 20  # an ini file is a few lines; /dev/zero is not one


def load_ini(path: str) -> IniConfig:
    config = IniConfig(path)
    if os.path.exists(path) and not os.path.isfile(path):
        raise ConfigError(f"config file {path} is not a regular file: pass -c PATH to your "
                          "ini file")
    if os.path.isfile(path) and os.path.getsize(path) > MAX_INI_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_INI_BYTES} bytes: not an "
                          "ini file")
    try:
        with open(path, encoding="utf-8") as handle:
            config.read_file(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found: pass -c PATH to your ini file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except (configparser.Error, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(f"config file {path} is not a valid ini file: {first_line}") from exc
    return config


YES = ("yes", "true", "on", "1")
NO = ("no", "false", "off", "0")


def parse_yes_no(text: str, where: str) -> bool:
    """An ini's or an inventory's yes or no; UsageError naming ``where`` otherwise."""
    word = text.strip().lower()
    if word in YES or word in NO:
        return word in YES
    raise UsageError(f"{where}={text} is neither yes nor no")


def settings(config: configparser.ConfigParser) -> configparser.SectionProxy:
    """The ``[nitools]`` or ``[pynetinstall]`` section."""
    for name in SECTIONS:
        if config.has_section(name):
            return config[name]
    source = getattr(config, "path", "") or "the config file"
    raise ConfigError(f"{source} has no [nitools] or [pynetinstall] section: add one")
