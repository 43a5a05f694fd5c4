"""The station configuration: command line over ini over the defaults, merged once."""

import os

import pytest

from nitools.errors import ConfigError, UsageError
from nitools.station.setup.config import (
    DEFAULTS,
    InstallDefaults,
    config_file,
    load_ini,
    parse_macs,
    station_config,
    station_name,
)
from nitools.station.setup.options import StationOptions


def ini(tmp_path, text):
    path = tmp_path / "station.ini"
    path.write_text(text)
    return load_ini(str(path))


def test_the_command_line_wins_over_the_ini_and_the_ini_over_the_defaults(tmp_path):
    config = ini(tmp_path, "[nitools]\nconfig_mode = empty\nkey_file = /k.key\n"
                           "journal = /var/lib/j.sqlite3\nrouteros = 7.16.1\n")
    merged = station_config(StationOptions(config_mode="keep", grace=5.0), config)
    assert merged.defaults.config_mode == "keep"  # command line
    assert merged.defaults.key_file == "/k.key" and merged.journal == "/var/lib/j.sqlite3"
    assert merged.release.routeros == "7.16.1"  # ini
    assert merged.grace == 5.0 and merged.window == DEFAULTS.window  # default
    assert merged.interfaces == DEFAULTS.interfaces


def test_timers_and_macs_are_typed_once(tmp_path):
    merged = station_config(StationOptions(format_timeout=30, macs=("AA-BB-CC-DD-EE-FF",),
                                           interfaces=("eth1", "eth2")), None)
    assert merged.timing.format_timeout == 30.0
    assert merged.timing.reboot_timeout == DEFAULTS.timing.reboot_timeout
    assert merged.macs == frozenset({bytes.fromhex("aabbccddeeff")})
    assert merged.interfaces == ("eth1", "eth2")


def test_ini_packages_are_one_a_line_and_the_command_line_replaces_them(tmp_path):
    config = ini(tmp_path, "[pynetinstall]\npackages =\n  container\n  wifi-qcom\n")
    assert station_config(StationOptions(), config).release.packages == (
        "container", "wifi-qcom")
    assert station_config(StationOptions(release_packages=("zerotier",)),
                          config).release.packages == ("zerotier",)


def test_a_bad_mac_or_config_mode_is_a_usage_error():
    with pytest.raises(UsageError, match="--mac"):
        parse_macs(("not-a-mac",))
    with pytest.raises(UsageError, match="config_mode=sometimes"):
        InstallDefaults(config_mode="sometimes")


def test_an_ini_without_its_section_or_unreadable_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match=r"no \[nitools\] or \[pynetinstall\] section"):
        station_config(StationOptions(), ini(tmp_path, "[other]\nx = 1\n"))
    with pytest.raises(ConfigError, match="pass -c PATH"):
        load_ini(str(tmp_path / "missing.ini"))
    (tmp_path / "broken.ini").write_text("no section header\n")
    with pytest.raises(ConfigError, match="not a valid ini file"):
        load_ini(str(tmp_path / "broken.ini"))


def test_pynetinstalls_default_ini_is_used_when_only_it_exists(tmp_path):
    if os.path.exists(DEFAULTS.config_path):
        pytest.skip(f"this machine has {DEFAULTS.config_path}")
    theirs = tmp_path / "pynetinstall.ini"
    assert config_file(DEFAULTS.config_path, str(theirs)) == DEFAULTS.config_path
    theirs.write_text("[pynetinstall]\n")
    assert config_file(DEFAULTS.config_path, str(theirs)) == str(theirs)
    assert config_file(str(tmp_path / "mine.ini"), str(theirs)) == str(tmp_path / "mine.ini")


def test_a_station_signs_its_rows_with_its_name_or_host_and_ports():
    assert station_name(station_config(StationOptions(station_name="line-1"), None)) == "line-1"
    named = station_name(station_config(StationOptions(interfaces=("eth1", "eth2")), None))
    assert named.endswith(":eth1+eth2")
