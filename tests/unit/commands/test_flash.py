"""`nitools flash` as a real process against emulated boards over 127.0.0.1 UDP."""

import hashlib
import textwrap
from pathlib import Path

import pytest

from nitools.emulation.emulator import BoardSpec, Faults
from nitools.emulation.synthetic import build_npk
from tests.helpers import http_server, loopback_boards, run_cli

SCRIPT = b"/system identity set name=loopback\n"


@pytest.fixture
def packages(tmp_path: Path) -> Path:
    (tmp_path / "routeros-7.16.1-arm64.npk").write_bytes(
        build_npk("system", "7.16.1", "arm64", size=600_000, seed=1))
    (tmp_path / "container-7.16.1-arm64.npk").write_bytes(
        build_npk("container", "7.16.1", "arm64", size=40_000, seed=2,
                  requires=("system", "7.16.1")))
    (tmp_path / "first-boot.rsc").write_bytes(SCRIPT)
    return tmp_path


def write_ini(folder: Path, body: str, name: str = "station.ini") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def flash_one(ini: Path, spec: BoardSpec | None = None, faults: Faults | None = None,
              cwd: Path | None = None, args: tuple[str, ...] = ("--plain",)):
    """Run `nitools flash -1` against emulated boards; the process result and their summary."""
    with loopback_boards(spec, faults=faults) as boards:
        result = run_cli("flash", "-1", *args, "-c", str(ini), "--loopback",
                         boards.loopback_arg, cwd=cwd)
        return result, boards.emulator.summary()


def files_of(board: dict) -> dict[str, str]:
    return {f["name"]: f["sha256"] for f in board["files"]}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_shot_flash_delivers_identical_files_and_exits_0(packages):
    ini = write_ini(packages, f"""
        [nitools]
        firmware={packages}/routeros-7.16.1-arm64.npk
        config={packages}/first-boot.rsc
        additional_packages=
            {packages}/container-7.16.1-arm64.npk
        """)
    result, summary = flash_one(ini)
    assert result.returncode == 0, result.stderr
    (board,) = summary["boards"]
    assert board["installed"]
    assert files_of(board) == {
        "routeros-7.16.1-arm64.npk": sha(packages / "routeros-7.16.1-arm64.npk"),
        "container-7.16.1-arm64.npk": sha(packages / "container-7.16.1-arm64.npk"),
        "autorun.scr": sha(packages / "first-boot.rsc"),
    }
    assert "installed" in result.stderr and "uploading 50%" in result.stderr


def test_licence_key_never_appears_in_the_log(packages):
    ini = write_ini(packages, f"[nitools]\nfirmware={packages}/routeros-7.16.1-arm64.npk\n")
    spec = BoardSpec(key="U2VjcmV0S2V5U2VjcmV0S2V5U2VjcmV0S2V5", key_required=True)
    result, _ = flash_one(ini, spec=spec, args=("--plain", "-vv"))
    assert result.returncode == 0, result.stderr
    assert "U2VjcmV0S2V5" not in result.stderr + result.stdout
    asked, _ = flash_one(ini, spec=spec, args=("--plain", "--log-keys"))
    assert "key U2VjcmV0S2V5" in asked.stderr


def test_pynetinstall_ini_and_plugin_module_work_unchanged(packages):
    # A plugin written the way pyNetinstall documents it: module:Class, __init__(config),
    # get_files(info) -> (firmware, config), info attributes, file objects.
    (packages / "chooser.py").write_text(textwrap.dedent("""
        import os

        class Chooser:
            def __init__(self, config):
                self.folder = config["pynetinstall"]["folder"]

            def get_files(self, info):
                assert isinstance(info.mac, bytes) and len(info.mac) == 6
                assert info.model == "RB4011iGS+" and info.min_os == "6.45.9"
                assert info.lic_id and info.lic_key is not None
                firmware = open(os.path.join(self.folder, f"routeros-7.16.1-{info.arch}.npk"),
                                "rb")
                return firmware, os.path.join(self.folder, "first-boot.rsc")
        """))
    ini = write_ini(packages, f"""
        [pynetinstall]
        plugin=chooser:Chooser
        folder={packages}
        """, name="pynetinstall.ini")
    (packages / "routeros-7.16.1-arm.npk").write_bytes(
        build_npk("system", "7.16.1", "arm", size=100_000, seed=5))
    spec = BoardSpec(model="RB4011iGS+", arch="arm", min_version="6.45.9")
    result, summary = flash_one(ini, spec=spec, cwd=packages)
    assert result.returncode == 0, result.stderr
    assert files_of(summary["boards"][0]) == {
        "routeros-7.16.1-arm.npk": sha(packages / "routeros-7.16.1-arm.npk"),
        "autorun.scr": sha(packages / "first-boot.rsc"),
    }


def test_firmware_and_config_from_a_real_http_server(packages):
    with http_server(packages) as base:
        ini = write_ini(packages, f"""
            [pynetinstall]
            firmware={base}/routeros-7.16.1-arm64.npk
            config={base}/first-boot.rsc
            """)
        result, summary = flash_one(ini)
    assert result.returncode == 0, result.stderr
    assert files_of(summary["boards"][0]) == {
        "routeros-7.16.1-arm64.npk": sha(packages / "routeros-7.16.1-arm64.npk"),
        "autorun.scr": sha(packages / "first-boot.rsc"),
    }


@pytest.mark.parametrize(("firmware", "config", "message"), [
    ("{base}/missing.npk", "{base}/first-boot.rsc", "HTTP 404"),
    ("{base}/routeros-7.16.1-arm64.npk", "{base}/missing.rsc", "HTTP 404"),
    ("{base}/cut/routeros-7.16.1-arm64.npk", "{base}/first-boot.rsc", "download of"),
    ("{base}/first-boot.rsc", "", "not a RouterOS package"),
])
def test_failed_download_or_wrong_file_leaves_the_board_untouched(packages, firmware, config,
                                                                   message):
    with http_server(packages) as base:
        lines = ["[pynetinstall]", f"firmware={firmware.format(base=base)}"]
        if config:
            lines.append(f"config={config.format(base=base)}")
        ini = write_ini(packages, "\n".join(lines) + "\n")
        result, summary = flash_one(ini)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    (board,) = summary["boards"]
    assert board["offers_seen"] == 0 and board["state"] == "discovering"


def test_wrong_architecture_is_refused_before_the_offer(packages):
    ini = write_ini(packages, f"[nitools]\nfirmware={packages}/routeros-7.16.1-arm64.npk\n")
    result, summary = flash_one(ini, spec=BoardSpec(arch="mipsbe", model="RB2011"))
    assert result.returncode == 1
    assert "package is for arm64, the board is mipsbe" in result.stderr
    assert summary["boards"][0]["offers_seen"] == 0


def test_package_below_the_board_minimum_is_refused(packages):
    (packages / "old.npk").write_bytes(build_npk("system", "7.10", "arm64", seed=9))
    ini = write_ini(packages, f"[nitools]\nfirmware={packages}/old.npk\n")
    result, _ = flash_one(ini, spec=BoardSpec(min_version="7.12"))
    assert result.returncode == 1
    assert "older than the board's minimum 7.12" in result.stderr


def test_one_shot_with_loss_and_duplication(packages):
    ini = write_ini(packages, f"[nitools]\nfirmware={packages}/routeros-7.16.1-arm64.npk\n")
    result, summary = flash_one(ini, faults=Faults(drop=0.05, duplicate=0.05, seed=11))
    assert result.returncode == 0, result.stderr
    assert summary["frames_dropped"] > 0
    assert files_of(summary["boards"][0]) == {
        "routeros-7.16.1-arm64.npk": sha(packages / "routeros-7.16.1-arm64.npk")}


def test_no_config_line_means_default_configuration_no_script(packages):
    ini = write_ini(packages, f"[nitools]\nfirmware={packages}/routeros-7.16.1-arm64.npk\n")
    result, summary = flash_one(ini)
    assert result.returncode == 0
    assert [f["name"] for f in summary["boards"][0]["files"]] == ["routeros-7.16.1-arm64.npk"]
    assert "configuration: default" in result.stderr


def test_single_newline_config_means_no_configuration(packages):
    (packages / "none.rsc").write_bytes(b"\n")
    ini = write_ini(packages, f"[nitools]\nfirmware={packages}/routeros-7.16.1-arm64.npk\n"
                              f"config={packages}/none.rsc\n")
    result, summary = flash_one(ini)
    assert result.returncode == 0
    assert summary["boards"][0]["files"][-1]["name"] == "autorun.scr"
    assert summary["boards"][0]["files"][-1]["received"] == 1


def test_plugin_exception_in_get_files_is_one_log_line_and_board_untouched(packages):
    (packages / "faulty.py").write_text(textwrap.dedent("""
        class Plugin:
            def get_files(self, info):
                raise KeyError("no row for this MAC in the inventory")
        """))
    ini = write_ini(packages, "[pynetinstall]\nplugin=faulty:Plugin\n")
    result, summary = flash_one(ini, cwd=packages)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert any("no row for this MAC in the inventory" in line for line in errors)
    assert summary["boards"][0]["offers_seen"] == 0


def test_plugin_returning_no_firmware_skips_the_board(packages):
    (packages / "skipper.py").write_text(
        "class Plugin:\n    def get_files(self, info):\n        return None, None\n")
    ini = write_ini(packages, "[pynetinstall]\nplugin=skipper:Plugin\n")
    result, _ = flash_one(ini, cwd=packages)
    assert result.returncode == 1
    assert "chose no firmware" in result.stderr


def test_logging_config_file_is_used(packages):
    log_file = packages / "flash.log"
    (packages / "logging.ini").write_text(textwrap.dedent(f"""
        [loggers]
        keys=root
        [handlers]
        keys=file
        [formatters]
        keys=plain
        [logger_root]
        level=INFO
        handlers=file
        [handler_file]
        class=FileHandler
        args=('{log_file}',)
        formatter=plain
        [formatter_plain]
        format=%(levelname)s %(message)s
        """))
    ini = write_ini(packages, f"[nitools]\nfirmware={packages}/routeros-7.16.1-arm64.npk\n")
    result, _ = flash_one(ini, args=("-l", str(packages / "logging.ini")))
    assert result.returncode == 0, result.stderr
    text = log_file.read_text()
    assert "INFO" in text and "done: installed" in text


def test_backup_given_as_config_is_refused_before_the_offer(packages):
    (packages / "router.backup.rsc").write_bytes(b"\x88\xac\xa1\xb1" + bytes(500))
    ini = write_ini(packages, f"[nitools]\nfirmware={packages}/routeros-7.16.1-arm64.npk\n"
                              f"config={packages}/router.backup.rsc\n")
    result, summary = flash_one(ini)
    assert result.returncode == 2  # a station-wide file: found at start, before any board
    assert "binary RouterOS backup" in result.stderr
    assert summary["boards"][0]["offers_seen"] == 0


def test_flash_configured_from_the_environment_alone(packages):
    import os
    import subprocess
    import sys

    from tests.helpers import REPO, STATE_HOME

    ini = write_ini(packages, f"[nitools]\nfirmware={packages}/routeros-7.16.1-arm64.npk\n")
    with loopback_boards() as boards:
        journal = packages / "env.sqlite3"
        env = dict(os.environ, PYTHONPATH=str(REPO), XDG_STATE_HOME=STATE_HOME,
                   NITOOLS_CONFIG=str(ini), NITOOLS_LOOPBACK=boards.loopback_arg,
                   NITOOLS_ONE_SHOT="1", NITOOLS_PLAIN="true", NITOOLS_WINDOW="4",
                   NITOOLS_JOURNAL=str(journal), NITOOLS_STATION_NAME="line-2")
        result = subprocess.run([sys.executable, "-m", "nitools", "flash"], env=env,
                                capture_output=True, text=True, timeout=60)
        summary = boards.emulator.summary()
    assert result.returncode == 0, result.stderr
    assert summary["boards"][0]["installed"]
    assert "installed and rebooted" in result.stderr
    listed = run_cli("history", "--journal", str(journal), "--station", "line-2", "--csv")
    assert listed.stdout.count("line-2,") == 1 and ",rebooted," in listed.stdout


def test_a_bad_environment_value_is_a_usage_error_and_a_flag_wins_over_it(packages):
    import os
    import subprocess
    import sys

    from tests.helpers import REPO, STATE_HOME

    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_STATE_HOME=STATE_HOME,
               NITOOLS_WINDOW="many")
    bad = subprocess.run([sys.executable, "-m", "nitools", "flash", "-c", "/nonexistent.ini"],
                         env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--window" in bad.stderr and "many" in bad.stderr
    overridden = subprocess.run([sys.executable, "-m", "nitools", "flash", "--window", "4",
                                 "-c", "/nonexistent.ini"], env=env, capture_output=True,
                                text=True, timeout=30)
    assert overridden.returncode == 2 and "config file /nonexistent.ini not found" in \
        overridden.stderr


# ------------------------------------------------- netinstall-cli's command line


def flash_packages(args: tuple[str, ...], spec: BoardSpec | None = None, count: int = 1):
    with loopback_boards(spec, count=count) as boards:
        result = run_cli("flash", "--plain", "--loopback", boards.loopback_arg, *args)
        return result, boards.emulator.summary()


def test_packages_as_arguments_with_s_send_the_script_and_need_no_ini(packages):
    result, summary = flash_packages(("-s", str(packages / "first-boot.rsc"),
                                      str(packages / "routeros-7.16.1-arm64.npk"),
                                      str(packages / "container-7.16.1-arm64.npk")))
    assert result.returncode == 0, result.stderr
    (board,) = summary["boards"]
    assert board["installed"] and not board["keep_config"]
    assert files_of(board) == {
        "routeros-7.16.1-arm64.npk": sha(packages / "routeros-7.16.1-arm64.npk"),
        "container-7.16.1-arm64.npk": sha(packages / "container-7.16.1-arm64.npk"),
        "autorun.scr": sha(packages / "first-boot.rsc")}


def test_packages_without_r_or_e_keep_the_old_configuration(packages):
    result, summary = flash_packages((str(packages / "routeros-7.16.1-arm64.npk"),))
    assert result.returncode == 0, result.stderr
    (board,) = summary["boards"]
    assert board["installed"] and board["keep_config"]
    assert list(files_of(board)) == ["routeros-7.16.1-arm64.npk"]


def test_packages_of_two_architectures_each_board_gets_its_own(packages, tmp_path):
    arm = tmp_path / "routeros-7.16.1-arm.npk"
    arm.write_bytes(build_npk("system", "7.16.1", "arm", size=30_000, seed=9))
    result, summary = flash_packages(("-e", "--count", "1", str(arm),
                                      str(packages / "routeros-7.16.1-arm64.npk")),
                                     spec=BoardSpec(arch="arm"))
    assert result.returncode == 0, result.stderr
    (board,) = summary["boards"]
    assert board["installed"] and files_of(board) == {arm.name: sha(arm),
                                                      "autorun.scr": hashlib.sha256().hexdigest()}


def test_a_board_of_an_architecture_not_given_is_refused_in_one_voice(packages, tmp_path):
    journal = tmp_path / "j.sqlite3"
    result, summary = flash_packages(("--journal", str(journal),
                                      str(packages / "routeros-7.16.1-arm64.npk")),
                                     spec=BoardSpec(arch="mipsbe"))
    assert result.returncode == 1
    assert "no package given for architecture 'mipsbe' (given: arm64)" in result.stderr
    assert "plugin" not in result.stderr.lower()  # no plugin was used
    assert "this run's journal: 1 refused\n" in result.stderr  # as the journal says
    assert "  refused: 02:" in result.stderr  # naming the board
    history = run_cli("history", "--journal", str(journal), "--csv")
    assert ",refused," in history.stdout and "files-refused" in history.stdout
    (board,) = summary["boards"]
    assert board["offers_seen"] == 0


@pytest.mark.parametrize(("args", "fragment"), [
    (("-b",), "-b (discard branding) is refused"),
    (("-a", "192.0.2.10"), "nitools flash has no BOOTP server"),
    (("-r", "-e"), "choose one configuration"),
])
def test_netinstall_cli_flags_nitools_cannot_honour_are_refused_clearly(packages, args,
                                                                        fragment):
    result = run_cli("flash", "--plain", "--loopback", "1:2", *args,
                     str(packages / "routeros-7.16.1-arm64.npk"))
    assert result.returncode == 2 and fragment in result.stderr, result.stderr


def test_metrics_are_served_during_a_flash_and_move_with_the_boards(packages):
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.helpers import REPO, STATE_HOME, free_udp_port

    ini = write_ini(packages, f"[nitools]\nfirmware={packages}/routeros-7.16.1-arm64.npk\n")
    port = free_udp_port()  # a free number; the metrics server takes it over TCP
    url = f"http://127.0.0.1:{port}/metrics"
    with loopback_boards() as boards:
        env = dict(os.environ, PYTHONPATH=str(REPO), XDG_STATE_HOME=STATE_HOME)
        process = subprocess.Popen(
            [sys.executable, "-m", "nitools", "flash", "--plain", "-c", str(ini), "--count", "2",
             "--loopback", boards.loopback_arg, "--metrics", str(port)],
            env=env, stderr=subprocess.PIPE, text=True)
        try:
            text, deadline = "", time.monotonic() + 30
            done = 'nitools_installs_total{arch="arm64",cause="none",outcome="rebooted"} 1.0'
            while done not in text:
                assert time.monotonic() < deadline, text
                time.sleep(0.2)
                try:
                    text = urllib.request.urlopen(url, timeout=2).read().decode()
                except OSError:
                    continue
        finally:
            process.send_signal(signal.SIGTERM)
            _, log = process.communicate(timeout=30)
    sent = next(line for line in text.splitlines() if line.startswith("nitools_bytes_sent_total"))
    assert float(sent.split()[1]) == (packages / "routeros-7.16.1-arm64.npk").stat().st_size
    assert 'nitools_boards{phase="uploading"} 0.0' in text
    assert "nitools_install_duration_seconds_count 1.0" in text
    assert process.returncode == 130, log  # --count 2 asked for a second board


def test_once_leaves_a_board_the_journal_shows_installed(packages, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from tests.helpers import REPO

    package = str(packages / "routeros-7.16.1-arm64.npk")
    journal = str(tmp_path / "j.sqlite3")
    result, _ = flash_packages(("--once", "--journal", journal, package))
    assert result.returncode == 0, result.stderr  # new to the journal: installed
    with loopback_boards() as boards:  # the same board again (same software ID)
        process = subprocess.Popen(
            [sys.executable, "-m", "nitools", "flash", "--plain", "-m", "--once",
             "--loopback", boards.loopback_arg, "--journal", journal, package],
            stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        try:
            for line in process.stderr:
                if "installed before (journal row 1): not installing again (--once)" in line:
                    break
            else:
                raise AssertionError("the board was not left alone")
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
        assert boards.emulator.summary()["boards"][0]["offers_seen"] == 0


def test_flash_with_verify_says_that_station_also_sees_boards_ask_for_an_address(packages):
    result, _ = flash_packages(("-1", "--verify", "--verify-timeout", "1",
                                str(packages / "routeros-7.16.1-arm64.npk")))
    assert "'nitools station' also sees a rebooted board ask its dnsmasq for an address " \
           "(outcome booted, docs/verify.md)" in result.stderr, result.stderr
