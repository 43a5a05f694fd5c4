"""Every station setting is declared once, and everything else comes from that."""

from dataclasses import fields

import click

from nitools.cli import flash, station
from nitools.fetch.releases import ReleaseChoice
from nitools.netinstall.server import Timing
from nitools.station.engine.settings import EngineSettings
from nitools.station.plan.ini import InstallDefaults
from nitools.station.setup.config import StationConfig, station_config
from nitools.station.setup.options import StationOptions
from nitools.station.setup.settings import Group, Target, declared, ini_keys

TARGETS = {Target.ENGINE: EngineSettings, Target.TIMING: Timing,
           Target.INSTALL: InstallDefaults, Target.STATION: StationConfig}


def test_every_option_but_the_package_arguments_is_declared():
    names = {f.name for f, _ in declared(StationOptions)}
    assert names | {"packages"} == {f.name for f in fields(StationOptions)}


def test_each_setting_goes_to_a_field_of_that_name_in_its_target():
    for option, setting in declared(StationOptions):
        target = TARGETS.get(setting.to)
        if target is not None:
            assert option.name in {f.name for f in fields(target)}, option.name
        elif setting.to is Target.RELEASE:
            assert (setting.ini or option.name) in {f.name for f in fields(ReleaseChoice)}


def test_flash_and_station_offer_exactly_the_declared_options_in_their_groups():
    for command in (flash, station):
        options = {p.name: p for p in command.params if isinstance(p, click.Option)}
        for option, setting in declared(StationOptions):
            offered = options[option.name]
            assert tuple(offered.opts + offered.secondary_opts) == setting.flags
            assert offered.group == setting.group.value
            assert offered.envvar == "NITOOLS_" + setting.flags[-1][2:].upper().replace("-", "_")


def test_help_shows_the_groups_in_their_order():
    text = flash.get_help(click.Context(flash))
    places = [text.index(group.value + ":") for group in Group]
    assert places == sorted(places)


def test_the_ini_may_set_what_is_declared_with_an_ini_key(tmp_path):
    from nitools.station.plan.ini import load_ini

    assert "packages" in ini_keys(StationOptions) and "grace" not in ini_keys(StationOptions)
    path = tmp_path / "s.ini"
    path.write_text("[nitools]\nunlisted = default\npackages =\n  container\n  wifi-qcom\n"
                    "station_name = line-2\nmirror = /srv/mirror\n")
    merged = station_config(StationOptions(), load_ini(str(path)))
    assert merged.defaults.unlisted == "default" and merged.station_name == "line-2"
    assert merged.release.packages == ("container", "wifi-qcom")
    assert merged.release.mirror == "/srv/mirror"


def test_options_reach_the_engine_and_the_sessions_timers():
    merged = station_config(StationOptions(grace=5.0, window=8, reboot_timeout=20.0,
                                           once_per_mac=True, count=3), None)
    assert (merged.engine.grace, merged.engine.window, merged.engine.count) == (5.0, 8, 3)
    assert merged.engine.once_per_mac and merged.engine.timing.reboot_timeout == 20.0
    assert merged.engine.timing.format_timeout == Timing.format_timeout  # not given
