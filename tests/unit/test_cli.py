"""Bad input: one line on stderr that says what to do, an exit code, no traceback."""

import os
import textwrap

import pytest

from nitools.emulation.synthetic import build_npk
from tests.helpers import REPO, free_udp_port, run_cli


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


def good_ini(folder):
    (folder / "r.npk").write_bytes(build_npk(size=2000))
    ini = folder / "ok.ini"
    ini.write_text(f"[nitools]\nfirmware={folder / 'r.npk'}\n")
    return ini


def test_unknown_interface(tmp_path):
    result = run_cli("flash", "-1", "--plain", "-c", str(good_ini(tmp_path)), "-i", "nosuchif0")
    check_one_line_error(result, 1, "no network interface 'nosuchif0'")


def test_bad_loopback_spec(tmp_path):
    result = run_cli("flash", "-c", str(good_ini(tmp_path)), "--loopback", "abc")
    check_one_line_error(result, 1, "LOCAL_PORT:PEER_PORT")


@pytest.mark.parametrize(("body", "fragment"), [
    ("conifg=a.rsc\n", "unknown key conifg=: did you mean config=?"),
    ("additonal_packages=\n  b.npk\n", "did you mean additional_packages=?"),
])
def test_misspelled_ini_keys_are_errors_that_name_the_closest_key(tmp_path, body, fragment):
    ini = good_ini(tmp_path)
    ini.write_text(ini.read_text() + body)
    result = run_cli("flash", "-1", "--plain", "-c", str(ini), "--loopback", loopback())
    check_one_line_error(result, 2, fragment)


@pytest.mark.parametrize(("setup", "args", "fragment"), [
    (lambda d: None, ("--key-file", "{d}/garbage.key"),
     "not a MikroTik software key"),
    (lambda d: (d / "nul.rsc").write_bytes(b"/ip\0print\n"), ("--script", "{d}/nul.rsc"),
     "NUL bytes"),
    (lambda d: None, ("--mode-script", "{d}/r.npk"), "mode script"),
    (lambda d: (d / "empty.dpk").write_bytes(b""), ("--branding", "{d}/empty.dpk"), "empty"),
])
def test_station_wide_inputs_are_checked_at_start(tmp_path, setup, args, fragment):
    ini = good_ini(tmp_path)
    (tmp_path / "garbage.key").write_text("not a key at all\n")
    setup(tmp_path)
    result = run_cli("flash", "-1", "--plain", "-c", str(ini), "--loopback", loopback(),
                     *(a.format(d=tmp_path) for a in args))
    assert result.returncode != 0 and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stderr


def test_missing_firmware_is_an_error_at_start(tmp_path):
    ini = tmp_path / "missing.ini"
    ini.write_text("[nitools]\nfirmware=/no/such/routeros.npk\n")
    result = run_cli("flash", "-1", "--plain", "-c", str(ini), "--loopback", loopback())
    check_one_line_error(result, 1, "file not found: /no/such/routeros.npk")


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
    from nitools.station.plan.ini import DEFAULT_CONFIG, config_file

    legacy = tmp_path / "pynetinstall.ini"
    assert config_file(DEFAULT_CONFIG, str(legacy)) == DEFAULT_CONFIG  # neither exists
    legacy.write_text("[pynetinstall]\nfirmware=x\n")
    expected = DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else str(legacy)
    assert config_file(DEFAULT_CONFIG, str(legacy)) == expected
    assert config_file(str(tmp_path / "mine.ini"), str(legacy)) == str(tmp_path / "mine.ini")


@pytest.mark.parametrize(("args", "fragment"), [
    (("flash", "-1", "--plain", "--loopback", "1:2", "-c", "{ini}", "--mac", "00:11:22:33:44:5g"),
     "write six hex pairs"),
    (("dnsmasq", "-i", "v0:1"), "address label, not an interface: give the interface itself"),
    (("dnsmasq", "-i", "lo", "--tftp-root", "{root}", "--run"),
     "loopback interface: boards can never reach it"),
    (("dnsmasq", "-i", "eth0\n"), "not a valid interface name"),
])
def test_misleading_messages_now_say_what_is_wrong(tmp_path, args, fragment):
    ini = good_ini(tmp_path)
    (tmp_path / "netinstall.arm64").write_bytes(b"\x7fELF" + bytes(100))
    result = run_cli(*(a.format(ini=ini, root=tmp_path) for a in args))
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_dnsmasq_output_onto_a_special_file_is_refused(tmp_path):
    from nitools.commands.dnsmasq import _write
    from nitools.errors import UsageError

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # as /dev/null would be: replacing it by rename must never happen
    with pytest.raises(UsageError, match="not a regular file"):
        _write(str(fifo), "x")
    assert fifo.is_fifo()


def test_every_station_option_has_its_variable_in_docs_container_md():
    from nitools.cli import station

    documented = (REPO / "docs" / "container.md").read_text()
    variables = [p.envvar for p in station.params if getattr(p, "envvar", None)]
    assert len(variables) > 30
    assert [v for v in variables if f"`{v}`" not in documented] == []


def test_station_a_with_m_is_refused_before_anything_runs():
    result = run_cli("station", "-i", "eth0", "-a", "192.0.2.5", "-m", "--tftp-root", "/tmp")
    assert result.returncode == 2
    assert "with -m or --count give --range START,END instead" in result.stderr
    two = run_cli("station", "-i", "eth0", "-i", "eth1", "-a", "192.0.2.5")
    assert two.returncode == 2 and "give it with one -i only" in two.stderr


@pytest.mark.parametrize("command", [("info",), ("extract", "-o", "out"),
                                     ("validate", "--arch", "arm64")])
def test_a_fifo_given_as_a_file_is_refused_not_waited_on(tmp_path, command):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = run_cli(*command, str(fifo), cwd=tmp_path, timeout=20)
    assert result.returncode == 2 and "is not a regular file" in result.stderr


@pytest.mark.parametrize("config", ["/dev/zero", "fifo"])
def test_a_config_that_is_no_regular_file_is_refused(tmp_path, config):
    os.mkfifo(tmp_path / "fifo")
    result = run_cli("flash", "-1", "--plain", "-c", config, "--loopback", loopback(),
                     cwd=tmp_path, timeout=20)
    check_one_line_error(result, 2, "is not a regular file")


@pytest.mark.parametrize("option", ["--grace", "--format-timeout", "--reboot-timeout"])
def test_nan_is_no_number(option):
    result = run_cli("flash", option, "nan", "--loopback", loopback())
    assert result.returncode == 2 and "'nan' is not a finite number" in result.stderr


def test_a_bad_database_url_and_an_unwritable_heartbeat_are_one_line_errors(tmp_path):
    bad_url = run_cli("history", "--journal", "postgresql://u:p@[::1")
    check_one_line_error(bad_url, 1, "not a valid PostgreSQL URL")
    package = tmp_path / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=2000))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("flash", "-1", "--plain", "--loopback", loopback(), "--journal",
                     str(tmp_path / "j.sqlite3"), "--health-file", str(blocker / "alive"),
                     str(package))
    check_one_line_error(result, 2, "--health-file")


def test_an_options_value_that_is_an_option_and_an_ini_with_packages_are_refused(tmp_path):
    package = tmp_path / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=2000))
    swallowed = run_cli("flash", "-c", "-r", "--loopback", loopback(), str(package))
    assert swallowed.returncode == 2
    assert "'-r' looks like an option, not a value" in swallowed.stderr
    ini = tmp_path / "station.ini"
    ini.write_text(f"[nitools]\nfirmware = {package}\n")
    both = run_cli("flash", "-c", str(ini), "--loopback", loopback(), str(package))
    check_one_line_error(both, 2, "packages as arguments take no ini file")
    nothing = run_cli("flash", "--loopback", loopback(), cwd=tmp_path)
    if not os.path.exists("/etc/nitools.ini"):
        check_one_line_error(nothing, 2, "say what to install: packages as arguments")


def test_count_says_how_many_boards_and_sighup_stops_like_sigterm(tmp_path):
    import signal
    import subprocess
    import sys

    package = tmp_path / "routeros-7.16.1-arm64.npk"
    package.write_bytes(build_npk("system", "7.16.1", "arm64", size=2000))
    process = subprocess.Popen(
        [sys.executable, "-m", "nitools", "flash", "--plain", "--count", "2", "--loopback",
         loopback(), "--journal", str(tmp_path / "j.sqlite3"), str(package)],
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "XDG_STATE_HOME": str(tmp_path)})
    first = process.stderr.readline()
    assert "(2 boards)" in first and "continuous" not in first, first
    process.send_signal(signal.SIGHUP)  # a closed terminal: stop, as SIGTERM does
    _, rest = process.communicate(timeout=30)
    assert "stopping" in rest and "Traceback" not in rest
    assert process.returncode == 130  # --count 2 was asked for and not done: said so


@pytest.mark.parametrize(("args", "fragment"), [
    (("flash", "--window", "0"), "0 is not in the range 1<=x<=256"),
    (("nosuch",), "No such command 'nosuch'"),
    (("validate",), "Missing argument 'FILE...'"),
    (("history", "--bogus"), "No such option '--bogus'"),
])
def test_click_usage_errors_are_one_line_as_every_other_error(args, fragment):
    """Issue 29 row 17: click's three-line usage block among one-line errors."""
    result = run_cli(*args)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("nitools: error: ") and fragment in line and "--help')" in line


def test_counts_say_their_noun_in_the_right_number():
    from nitools.console import counted

    assert counted(1, "board") == "1 board" and counted(2, "board") == "2 boards"
    assert counted(1, "board has", "boards have") == "1 board has"
    assert counted(0, "announcement") == "0 announcements"


def test_mistakes_knowable_at_start_are_found_at_start(tmp_path):
    """Issue 29 row 10: packages of two versions, a template without an inventory using
    names nothing defines, and a device mode the one release cannot take were found per
    board (every board refused); station.md promises exit 2 at start."""
    (tmp_path / "routeros-7.16.1-arm64.npk").write_bytes(build_npk("system", "7.16.1",
                                                                   "arm64", size=3000))
    (tmp_path / "routeros-7.15.3-arm.npk").write_bytes(build_npk("system", "7.15.3", "arm",
                                                                 size=3000))
    (tmp_path / "container-7.16.1-arm64.npk").write_bytes(build_npk(
        "container", "7.16.1", "arm64", size=3000, requires=("system", "7.16.1")))
    (tmp_path / "t.rsc.j2").write_text("/system identity set name={{ hostname }}\n")
    cases = [
        (("routeros-7.16.1-arm64.npk", "routeros-7.15.3-arm.npk"),
         "the packages given are of 2 RouterOS versions (7.15.3: routeros-7.15.3-arm.npk; "
         "7.16.1: routeros-7.16.1-arm64.npk)"),
        (("--config-template", "t.rsc.j2", "routeros-7.16.1-arm64.npk"),
         "template t.rsc.j2 uses 'hostname', which is neither an inventory column nor a "
         "board fact"),
        (("--device-mode", "auto", "routeros-7.16.1-arm64.npk", "container-7.16.1-arm64.npk"),
         "--device-mode auto needs RouterOS 7.22 or newer"),
        (("--device-mode", "auto", "--routeros", "7.16.1", "--package", "container"),
         "but every board gets 7.16.1"),
    ]
    for args, message in cases:
        result = run_cli("flash", "--plain", "--loopback", loopback(), *args, cwd=tmp_path)
        check_one_line_error(result, 2, message)


def test_a_repeated_flag_is_a_one_line_usage_error():
    result = run_cli("flash", "-rr", "--loopback", loopback(), "r.npk")
    check_one_line_error(result, 2, "-r and -r: the same flag twice")
