"""--device-mode: the mode script line, and versions that cannot take it."""

import pytest

from nitools.errors import PackageError, UsageError
from nitools.routeros.device_mode import mode_script_for, parse_device_mode
from nitools.routeros.version import parse_version

V722, V721 = parse_version("7.22"), parse_version("7.21.3")


def test_auto_writes_the_line_for_container_and_zerotier_from_7_22():
    assert mode_script_for("auto", V722, ["system", "container"]) == \
        b"/system/device-mode update mode=advanced container=yes\n"
    assert mode_script_for("auto", V722, ["system", "zerotier", "container"]) == \
        b"/system/device-mode update mode=advanced container=yes zerotier=yes\n"


def test_auto_without_such_a_package_and_off_write_nothing():
    assert mode_script_for("auto", V722, ["system", "wifi-qcom"]) is None
    assert mode_script_for("off", V722, ["system", "container"]) is None


def test_an_older_version_is_a_refusal_not_a_silent_drop():
    with pytest.raises(PackageError, match=r"from RouterOS 7\.22 on; this board gets 7\.21\.3"):
        mode_script_for("auto", V721, ["system", "container"])
    with pytest.raises(PackageError):
        mode_script_for("mode=advanced container=yes", V721, ["system"])


def test_explicit_settings_are_written_as_given_and_checked():
    setting = parse_device_mode(" mode=advanced   container=yes ")
    assert mode_script_for(setting, V722, ["system"]) == \
        b"/system/device-mode update mode=advanced container=yes\n"
    for bad in ("mode=advanced; /user add name=x", "container", 'mode="x"', "mode=$x"):
        with pytest.raises(UsageError):
            parse_device_mode(bad)
    assert parse_device_mode("mode=a\nb=c") == "mode=a b=c"  # blanks only separate
    assert parse_device_mode(None) == "off" and parse_device_mode("auto") == "auto"
