"""The ini file's vocabulary: loading, its section, pyNetinstall's default path."""

import os

import pytest

from nitools.errors import ConfigError, UsageError
from nitools.station.plan.ini import DEFAULT_CONFIG, InstallDefaults, config_file, load_ini


def test_an_unknown_config_mode_is_a_usage_error():
    with pytest.raises(UsageError, match="config_mode=sometimes"):
        InstallDefaults(config_mode="sometimes")


def test_an_unreadable_ini_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="pass -c PATH"):
        load_ini(str(tmp_path / "missing.ini"))
    (tmp_path / "broken.ini").write_text("no section header\n")
    with pytest.raises(ConfigError, match="not a valid ini file"):
        load_ini(str(tmp_path / "broken.ini"))


def test_pynetinstalls_default_ini_is_used_when_only_it_exists(tmp_path):
    if os.path.exists(DEFAULT_CONFIG):
        pytest.skip(f"this machine has {DEFAULT_CONFIG}")
    theirs = tmp_path / "pynetinstall.ini"
    assert config_file(DEFAULT_CONFIG, str(theirs)) == DEFAULT_CONFIG
    theirs.write_text("[pynetinstall]\n")
    assert config_file(DEFAULT_CONFIG, str(theirs)) == str(theirs)
    assert config_file(str(tmp_path / "mine.ini"), str(theirs)) == str(tmp_path / "mine.ini")
