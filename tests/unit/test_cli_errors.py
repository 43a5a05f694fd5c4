"""Bad input: one line on stderr that says what to do, an exit code, no traceback."""

import os
import textwrap

import pytest

from tests.helpers import free_udp_port, run_cli


def check_one_line_error(result, code, fragment):
    assert result.returncode == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, result.stderr
    assert fragment in errors[0]
    assert "Traceback" not in result.stderr


def loopback():
    return f"{free_udp_port()}:{free_udp_port()}"


def test_missing_config_file(tmp_path):
    result = run_cli("flash", "-1", "--plain", "-c", str(tmp_path / "nope.ini"),
                     "--loopback", loopback())
    check_one_line_error(result, 2, "pass -c PATH")


@pytest.mark.parametrize(("body", "fragment", "code"), [
    ("[other]\nfirmware=x\n", "no [nitools] or [pynetinstall] section", 2),
    ("[nitools]\nconfig=a.rsc\n", "no firmware= line", 2),
    ("not an ini file", "not a valid ini file", 2),
    ("[nitools]\nplugin=nosuchmodule_xyz:Plugin\n", "cannot import plugin module", 1),
    ("[nitools]\nplugin=json:NoSuchClass\n", "has no class 'NoSuchClass'", 1),
    ("[nitools]\nplugin=justamodule\n", "not of the form module:Class", 2),
])
def test_bad_ini_files(tmp_path, body, fragment, code):
    ini = tmp_path / "bad.ini"
    ini.write_text(body)
    result = run_cli("flash", "-1", "--plain", "-c", str(ini), "--loopback", loopback(),
                     cwd=tmp_path)
    check_one_line_error(result, code, fragment)


def test_plugin_that_fails_to_start(tmp_path):
    (tmp_path / "broken.py").write_text(textwrap.dedent("""
        class Plugin:
            def __init__(self, config):
                raise RuntimeError("database unreachable")
        """))
    ini = tmp_path / "p.ini"
    ini.write_text("[pynetinstall]\nplugin=broken:Plugin\n")
    result = run_cli("flash", "-1", "--plain", "-c", str(ini), "--loopback", loopback(),
                     cwd=tmp_path)
    check_one_line_error(result, 1, "database unreachable")


def test_unknown_interface(tmp_path):
    ini = tmp_path / "ok.ini"
    ini.write_text("[nitools]\nfirmware=/x.npk\n")
    result = run_cli("flash", "-1", "--plain", "-c", str(ini), "-i", "nosuchif0")
    check_one_line_error(result, 1, "no network interface 'nosuchif0'")


def test_bad_loopback_spec(tmp_path):
    ini = tmp_path / "ok.ini"
    ini.write_text("[nitools]\nfirmware=/x.npk\n")
    result = run_cli("flash", "-c", str(ini), "--loopback", "abc")
    check_one_line_error(result, 1, "LOCAL_PORT:PEER_PORT")


def test_emulate_needs_exactly_one_link():
    result = run_cli("emulate")
    check_one_line_error(result, 2, "either -i INTERFACE or --loopback")


def test_bad_logging_config(tmp_path):
    ini = tmp_path / "ok.ini"
    ini.write_text("[nitools]\nfirmware=/x.npk\n")
    (tmp_path / "log.ini").write_text("[loggers]\nkeys=nothing\n")
    result = run_cli("flash", "-c", str(ini), "-l", str(tmp_path / "log.ini"),
                     "--loopback", loopback())
    check_one_line_error(result, 2, "cannot use logging config")


def test_help_lists_pynetinstall_options():
    result = run_cli("flash", "-h")
    assert result.returncode == 0
    for option in ("-c, --config", "-i, --interface", "-1, --one-shot", "-v, --verbose",
                   "-l, --logging", "-h, --help"):
        assert option in result.stdout


def test_default_config_falls_back_to_pynetinstalls(tmp_path):
    from nitools.config import DEFAULT_CONFIG, config_file

    legacy = tmp_path / "pynetinstall.ini"
    assert config_file(DEFAULT_CONFIG, str(legacy)) == DEFAULT_CONFIG  # neither exists
    legacy.write_text("[pynetinstall]\nfirmware=x\n")
    expected = DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else str(legacy)
    assert config_file(DEFAULT_CONFIG, str(legacy)) == expected
    assert config_file(str(tmp_path / "mine.ini"), str(legacy)) == str(tmp_path / "mine.ini")
