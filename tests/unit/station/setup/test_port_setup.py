"""Which plugin and defaults serve each port: the main section and [port:IFACE] sections."""

from __future__ import annotations

from tests.helpers import run_cli
from tests.mirror_server import package_bytes


def test_a_port_section_must_name_an_interface_of_the_station(tmp_path):
    (tmp_path / "x.npk").write_bytes(package_bytes("system", "7.16.1", "arm64"))
    config = tmp_path / "station.ini"
    config.write_text(f"[nitools]\nfirmware = {tmp_path}/x.npk\n\n"
                      "[port:eth9]\nconfig_mode = empty\n")
    result = run_cli("flash", "--loopback", "1:2", "-i", "eth0", "-c", str(config))
    assert result.returncode == 2
    assert "[port:eth9] names no interface of this station (eth0)" in result.stderr


def test_a_port_section_overrides_the_main_one_and_may_choose_packages_its_own_way(
        tmp_path):
    from nitools.fetch.releases import ReleasePlugin
    from nitools.station.setup.options import StationOptions
    from nitools.station.setup.port_setup import station_setup

    (tmp_path / "r.npk").write_bytes(package_bytes("system", "7.16.1", "arm64"))
    config = tmp_path / "station.ini"
    config.write_text(f"[nitools]\nfirmware = {tmp_path}/r.npk\nconfig_mode = keep\n\n"
                      "[port:eth2]\nconfig_mode = empty\n\n"
                      f"[port:eth3]\npackages_dir = {tmp_path}\n")
    setup = station_setup(StationOptions(config_path=str(config),
                                         interfaces=("eth1", "eth2", "eth3")))
    assert setup.for_port("eth1") is setup.main and setup.for_port(None) is setup.main
    assert setup.main.config.defaults.config_mode.value == "keep"
    assert setup.for_port("eth2").config.defaults.config_mode.value == "empty"
    assert setup.for_port("eth2").plugin.firmware == setup.main.plugin.firmware
    third = setup.for_port("eth3")  # another way to choose packages: firmware= is dropped
    assert isinstance(third.plugin, ReleasePlugin)
    assert third.config.defaults.config_mode.value == "keep"  # the rest of the main section holds
    assert len(setup.all()) == 3
