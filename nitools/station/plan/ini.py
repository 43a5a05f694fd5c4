"""The ini file's vocabulary, declared once: its sections, its station-wide keys, the
configuration modes, and the station-wide install defaults that plugins may override
per board. Drop-in compatible with pyNetinstall's file (``[pynetinstall]`` or
``[nitools]``)."""

from __future__ import annotations

import configparser
import logging
import os
from dataclasses import dataclass
from typing import Any

from nitools.errors import ConfigError, UsageError

log = logging.getLogger("nitools.config")

DEFAULT_CONFIG = "/etc/nitools.ini"
PYNETINSTALL_CONFIG = "/etc/pynetinstall.ini"  # used when only pyNetinstall's file exists
SECTIONS = ("nitools", "pynetinstall")
CONFIG_MODES = ("default", "empty", "script", "keep")
UNLISTED_CHOICES = ("refuse", "default")  # --unlisted: boards the inventory does not list

@dataclass(frozen=True)
class InstallDefaults:
    """Station-wide choices (flash options and ini keys); plugins may override per board."""

    config_mode: str | None = None  # None: follow the plugin's / ini's config
    script: Any = None  # a first-boot script replacing the ini's config=
    key_file: Any = None
    mode_script: Any = None
    branding: Any = None
    # Per board (docs/inventory.md): read and checked at start by station.per_board.
    inventory: str | None = None
    config_template: str | None = None
    unlisted: str | None = None
    device_mode: str | None = None

    def __post_init__(self) -> None:
        if self.config_mode is not None and self.config_mode not in CONFIG_MODES:
            raise UsageError(f"config_mode={self.config_mode} is not one of "
                             f"{', '.join(CONFIG_MODES)}")


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


def settings(config: configparser.ConfigParser) -> configparser.SectionProxy:
    """The ``[nitools]`` or ``[pynetinstall]`` section."""
    for name in SECTIONS:
        if config.has_section(name):
            return config[name]
    source = getattr(config, "path", "") or "the config file"
    raise ConfigError(f"{source} has no [nitools] or [pynetinstall] section: add one")
