"""Plugins: pyNetinstall's API, the optional per-board methods, and failures that
refuse one board."""

import base64

import pytest

from nitools.emulation.synthetic import build_npk
from nitools.errors import PluginError
from nitools.station.plan.prepare import prepare_install
from nitools.station.setup.config import InstallDefaults
from tests.helpers import board_request

BOARD = board_request(bytes.fromhex("024e49000001"), software_id="ABCD-EFGH",
                      image_version="7.16.1")
KEY = base64.b64encode(bytes(range(64))).decode()


def test_optional_plugin_methods_choose_per_board(tmp_path):
    (tmp_path / "routeros.npk").write_bytes(build_npk("system", "7.22", "arm64"))
    (tmp_path / "brand.dpk").write_bytes(b"branding")
    plan = prepare_install(Chooser(tmp_path), BOARD)
    assert plan.keep and plan.config_mode.value == "keep" and plan.key == KEY
    assert [f.name for f in plan.files] == ["routeros.npk", "brand.dpk", "mode.scr"]
    assert plan.description == "keep + mode script + licence key from file"


def test_pynetinstall_plugins_without_optional_methods_get_the_station_defaults(tmp_path):
    (tmp_path / "routeros.npk").write_bytes(build_npk())
    (tmp_path / "k.key").write_text(KEY)

    class Plain:
        def get_files(self, info):
            return str(tmp_path / "routeros.npk"), b"/system identity set name=x\n"

    plan = prepare_install(Plain(), BOARD, InstallDefaults(config_mode="empty",
                                                          key_file=str(tmp_path / "k.key")))
    assert plan.config_mode.value == "empty" and plan.files[-1].data == b"" and plan.key == KEY
    plan = prepare_install(Plain(), BOARD, InstallDefaults())
    assert plan.config_mode.value == "script" and plan.key is None


def test_a_failing_optional_method_is_a_plugin_error(tmp_path):
    (tmp_path / "routeros.npk").write_bytes(build_npk())

    class Broken:
        def get_files(self, info):
            return str(tmp_path / "routeros.npk"), None

        def get_key(self, info):
            raise RuntimeError("vault sealed")

    with pytest.raises(PluginError, match=r"get_key.*vault sealed"):
        prepare_install(Broken(), BOARD)


class Chooser:
    """A plugin that answers every optional question for one board."""

    def __init__(self, folder):
        self.folder = folder

    def get_files(self, info):
        return str(self.folder / "routeros.npk"), None

    def keep_config(self, info):
        return info.model == "RB5009"

    def get_key(self, info):
        return KEY

    def get_mode_script(self, info):
        return b"/system device-mode update container=yes\n"

    def get_branding(self, info):
        return str(self.folder / "brand.dpk")


def test_pynetinstalls_bind_ip_is_taken_with_a_warning(tmp_path, caplog):
    """Issue 29 row 11: a pyNetinstall ini with bind_ip= was refused."""
    import configparser
    import logging

    from nitools.station.plan.plugins import check_keys

    config = configparser.ConfigParser()
    config.read_string("[pynetinstall]\nfirmware=r.npk\nbind_ip=192.168.88.2\n")
    with caplog.at_level(logging.WARNING):
        check_keys(config, custom_plugin=False, station_keys=())
    assert "bind_ip= is pyNetinstall's and not needed here" in caplog.text
