"""What the command line said for ``flash`` and ``station``, as one typed, frozen object.

``cli.py`` builds it once from click's options (each also ``NITOOLS_<OPTION>``); the
commands take it, and ``config.station_config`` merges it over the ini file. ``None``
means "not given": the ini file or the defaults decide.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from nitools.errors import UsageError


@dataclass(frozen=True)
class StationOptions:
    config_path: str | None = None
    interfaces: tuple[str, ...] = ()
    one_shot: bool = False
    count: int | None = None
    macs: tuple[str, ...] = ()
    once: bool = False
    once_per_mac: bool = False
    multiple: bool = False
    journal: str | None = None
    station_name: str | None = None
    # what each board gets
    packages: tuple[str, ...] = ()  # netinstall-cli's way: the files themselves
    config_mode: str | None = None
    default_config: bool = False  # -r
    empty_config: bool = False  # -e
    script: str | None = None  # -s
    key_file: str | None = None
    mode_script: str | None = None
    branding: str | None = None
    discard_branding: bool = False  # -b: refused
    address: str | None = None  # -a: 'station' only
    routeros: str | None = None
    release_packages: tuple[str, ...] = ()
    mirror: str | None = None
    packages_dir: str | None = None
    # proof in service (docs/verify.md)
    verify: bool = False
    verify_timeout: float | None = None
    no_mndp: bool = False
    announce_timeout: float | None = None
    # every board its own configuration (docs/inventory.md)
    inventory: str | None = None
    config_template: str | None = None
    unlisted: str | None = None
    device_mode: str | None = None
    # timers and the wire
    format_timeout: float | None = None
    reboot_timeout: float | None = None
    grace: float | None = None
    window: int | None = None
    loopback: str | None = None
    # what people see
    verbose: int = 0
    logging_config: str | None = None
    plain: bool = False
    log_keys: bool = False
    metrics: str | None = None
    web: str | None = None
    web_token: str | None = None
    health_file: str | None = None

    @classmethod
    def from_click(cls, values: dict[str, Any]) -> StationOptions:
        """click's keyword arguments; lists become tuples (the object is immutable)."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise TypeError(f"options StationOptions does not know: {sorted(unknown)}")
        return cls(**{name: tuple(value) if isinstance(value, list) else value
                      for name, value in values.items()})

    def given(self) -> dict[str, Any]:
        """The options that were set (not None), by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


def netinstall_cli_meaning(options: StationOptions) -> StationOptions:
    """netinstall-cli's flags as nitools settings (docs/flash.md has the table)."""
    if options.discard_branding:
        raise UsageError("-b (discard branding) is refused: how netinstall-cli tells a board "
                         "to discard its branding is not known, and nitools will not guess")
    if options.address:
        raise UsageError("-a sets the address BOOTP hands out; nitools flash has no BOOTP "
                         "server: use 'nitools station -a ADDR' (flash and BOOTP in one)")
    chosen = [name for name, flag in (("-r", options.default_config),
                                      ("-e", options.empty_config),
                                      ("-s", options.script)) if flag]
    if len(chosen) > 1 or (chosen and options.config_mode):
        given = ", ".join(chosen + (["--config-mode"] if options.config_mode else []))
        raise UsageError(f"{given}: choose one configuration (-r default, -e empty, "
                         "-s script, or none of them to keep the old one)")
    config_mode = options.config_mode
    if options.default_config:
        config_mode = "default"
    elif options.empty_config:
        config_mode = "empty"
    elif options.script:
        config_mode = "script"
    elif options.config_template:
        config_mode = config_mode or "script"
    elif options.packages and not config_mode:
        config_mode = "keep"  # netinstall-cli's default, unlike the ini's
    one_shot = options.one_shot or bool(options.packages and not options.multiple
                                        and not options.count)
    return replace(options, config_mode=config_mode, one_shot=one_shot)
