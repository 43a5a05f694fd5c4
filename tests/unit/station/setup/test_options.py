"""The typed options object, and netinstall-cli's flags read as nitools settings."""

import dataclasses

import pytest

from nitools.errors import UsageError
from nitools.station.setup.options import StationOptions, netinstall_cli_meaning


def test_options_are_frozen_and_built_from_clicks_values():
    options = StationOptions.from_click({"interfaces": ["eth1"], "grace": 5.0, "packages": []})
    assert options.interfaces == ("eth1",) and options.packages == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.grace = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError, match="does not know"):
        StationOptions.from_click({"no_such_option": 1})
    assert StationOptions(grace=5.0).given()["grace"] == 5.0
    assert "journal" not in StationOptions().given()


@pytest.mark.parametrize(("flags", "mode"), [
    ({"default_config": True}, "default"), ({"empty_config": True}, "empty"),
    ({"script": "first.rsc"}, "script"), ({}, "keep"),
])
def test_packages_as_arguments_follow_netinstall_cli(flags, mode):
    meant = netinstall_cli_meaning(StationOptions(packages=("r.npk",), **flags))
    assert meant.config_mode == mode
    assert meant.one_shot  # one board, then exit, unless -m or --count


def test_without_packages_the_ini_decides_the_configuration():
    meant = netinstall_cli_meaning(StationOptions())
    assert meant.config_mode is None and not meant.one_shot
    assert not netinstall_cli_meaning(StationOptions(packages=("r.npk",), multiple=True)).one_shot
    assert not netinstall_cli_meaning(StationOptions(packages=("r.npk",), count=3)).one_shot


@pytest.mark.parametrize(("options", "message"), [
    (StationOptions(default_config=True, empty_config=True), "choose one configuration"),
    (StationOptions(script="a.rsc", config_mode="keep"), "choose one configuration"),
    (StationOptions(discard_branding=True), "-b"),
    (StationOptions(address="10.0.0.9"), "nitools station -a ADDR"),
    # issue 29 row 22: -m -o -1 started as "(one board)"
    (StationOptions(one_shot=True, multiple=True, once_per_mac=True),
     "-1 and -m: choose one way to end the run"),
    (StationOptions(one_shot=True, count=3), "-1 and --count 3: choose one way"),
])
def test_flags_that_cannot_be_honoured_are_refused(options, message):
    with pytest.raises(UsageError, match=message):
        netinstall_cli_meaning(options)


def test_a_flag_given_twice_is_found():
    """Issue 29 row 22: `-rr` was accepted."""
    from nitools.station.setup.options import flags_given_twice

    assert flags_given_twice(["-rr", "r.npk"]) == ["-r and -r"]
    assert flags_given_twice(["-r", "--default-config"]) == ["-r and --default-config"]
    assert flags_given_twice(["-rm", "-o"]) == []  # three flags, each once
    assert flags_given_twice(["-sm", "m.rsc", "-s", "a.rsc"]) == []  # options with values
    assert flags_given_twice(["--", "-r", "-r"]) == []


def test_one_shot_and_count_one_say_the_same():
    assert netinstall_cli_meaning(StationOptions(one_shot=True, count=1)).one_shot
