"""The station configuration: command line over ini over the defaults, merged once."""

import pytest

from nitools.errors import ConfigError, UsageError
from nitools.station.plan.ini import load_ini
from nitools.station.setup.config import DEFAULTS, station_config, station_name
from nitools.station.setup.options import StationOptions


def ini(tmp_path, text):
    path = tmp_path / "station.ini"
    path.write_text(text)
    return load_ini(str(path))


def test_the_command_line_wins_over_the_ini_and_the_ini_over_the_defaults(tmp_path):
    config = ini(tmp_path, "[nitools]\nconfig_mode = empty\nkey_file = /k.key\n"
                           "journal = /var/lib/j.sqlite3\nrouteros = 7.16.1\n")
    merged = station_config(StationOptions(config_mode="keep", grace=5.0), config)
    assert merged.defaults.config_mode.value == "keep"  # command line
    assert merged.defaults.key_file == "/k.key" and merged.journal == "/var/lib/j.sqlite3"
    assert merged.release.routeros == "7.16.1"  # ini
    assert merged.engine.grace == 5.0 and merged.engine.window == DEFAULTS.engine.window
    assert merged.interfaces == DEFAULTS.interfaces


def test_timers_and_macs_are_typed_once(tmp_path):
    merged = station_config(StationOptions(format_timeout=30, macs=("AA-BB-CC-DD-EE-FF",),
                                           interfaces=("eth1", "eth2")), None)
    assert merged.engine.timing.format_timeout == 30.0
    assert merged.engine.timing.reboot_timeout == DEFAULTS.engine.timing.reboot_timeout
    assert merged.engine.macs == frozenset({bytes.fromhex("aabbccddeeff")})
    assert merged.interfaces == ("eth1", "eth2")


def test_ini_packages_are_one_a_line_and_the_command_line_replaces_them(tmp_path):
    config = ini(tmp_path, "[pynetinstall]\npackages =\n  container\n  wifi-qcom\n")
    assert station_config(StationOptions(), config).release.packages == (
        "container", "wifi-qcom")
    assert station_config(StationOptions(release_packages=("zerotier",)),
                          config).release.packages == ("zerotier",)


def test_a_bad_mac_is_a_usage_error_naming_the_option():
    with pytest.raises(UsageError, match="--mac: 'not-a-mac' is not a MAC address"):
        station_config(StationOptions(macs=("not-a-mac",)), None)


def test_an_ini_without_its_section_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match=r"no \[nitools\] or \[pynetinstall\] section"):
        station_config(StationOptions(), ini(tmp_path, "[other]\nx = 1\n"))


def test_verify_without_mndp_is_refused():
    with pytest.raises(UsageError, match="--no-mndp"):
        station_config(StationOptions(verify=True, no_mndp=True), None)


def test_a_station_signs_its_rows_with_its_name_or_host_and_ports():
    assert station_name(station_config(StationOptions(station_name="line-1"), None)) == "line-1"
    named = station_name(station_config(StationOptions(interfaces=("eth1", "eth2")), None))
    assert named.endswith(":eth1+eth2")


@pytest.mark.parametrize(("line", "hold"), [("hold = yes", True), ("hold = no", False),
                                            ("hold = True", True), ("", False)])
def test_hold_from_the_ini_and_the_command_line_turns_it_on_whatever_the_ini_says(
        tmp_path, line, hold):
    config = ini(tmp_path, f"[nitools]\n{line}\n")
    assert station_config(StationOptions(), config).engine.hold is hold
    assert station_config(StationOptions(hold=True), config).engine.hold is True


def test_the_ini_says_yes_no_and_the_after_install_words_or_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="hold=maybe is neither yes nor no"):
        station_config(StationOptions(), ini(tmp_path, "[nitools]\nhold = maybe\n"))
    with pytest.raises(UsageError, match="after_install=later is not one of reboot, wait"):
        station_config(StationOptions(), ini(tmp_path, "[nitools]\nafter_install = later\n"))
    merged = station_config(StationOptions(), ini(tmp_path, "[nitools]\nafter_install = wait\n"))
    assert merged.engine.after_install == "wait"
    assert station_config(StationOptions(after_install="reboot"), ini(
        tmp_path, "[nitools]\nafter_install = wait\n")).engine.after_install == "reboot"
