"""Every pairing rule fails and passes; the CLI's exit codes and JSON."""

import json

import pytest

from nitools.emulation.synthetic import build_npk
from nitools.routeros.npk import read_package
from nitools.routeros.validate import BoardFacts, ScriptCheck, TransferLimits, check_install
from tests.helpers import run_cli


def pkg(name="system", version="7.16.1", arch="arm64", **kwargs):
    if name != "system" and "requires" not in kwargs:
        kwargs["requires"] = ("system", version)
    return read_package(build_npk(name, version, arch, **kwargs))


SYSTEM = pkg()
CONTAINER = pkg("container")


def board(arch="arm64", min_os="7.12", image="7.16.1"):
    return BoardFacts(arch, min_os, image)


def limits(frames=1000):
    """The netinstall protocol's numbers, as the station passes them."""
    return TransferLimits(frames, max_frames=65535, max_file_name=80)


def error_messages(findings):
    return [f.message for f in findings if f.level == "error"]


def test_good_set_passes():
    script = ScriptCheck("a.rsc", b":delay 5s\n/system identity set name=a\n")
    findings = check_install([("routeros.npk", SYSTEM), ("container.npk", CONTAINER)], board(),
                             limits(1000), [script])
    assert error_messages(findings) == []


@pytest.mark.parametrize(("packages", "fragment"), [
    ([("container.npk", CONTAINER), ("routeros.npk", SYSTEM)], "not the system package"),
    ([("routeros.npk", SYSTEM), ("c.npk", pkg("container", arch="arm"))],
     "architecture arm differs"),
    ([("routeros.npk", SYSTEM), ("c.npk", pkg("container", "7.15", requires=("system", "7.15")))],
     "version 7.15 differs"),
    ([("routeros.npk", SYSTEM), ("c.npk", pkg("container", requires=("system", "7.15")))],
     "needs system 7.15"),
    ([("routeros.npk", SYSTEM), ("c.npk", CONTAINER), ("c2.npk", CONTAINER)], "given twice"),
    ([("routeros.npk", SYSTEM), ("r2.npk", SYSTEM)], "given twice"),
    ([("x" * 81 + ".npk", SYSTEM)], "the board keeps 80"),
    ([("routeros.npk", SYSTEM), ("w.npk", pkg("wireless")), ("q.npk", pkg("wifi-qcom"))],
     "conflict"),
])
def test_package_rules_fail(packages, fragment):
    assert any(fragment in m for m in error_messages(check_install(packages, transfer=limits())))


def test_board_architecture_rule():
    assert error_messages(check_install([("r.npk", SYSTEM)], board(arch="arm64"))) == []
    assert any("the board is mipsbe" in m
               for m in error_messages(check_install([("r.npk", SYSTEM)], board(arch="mipsbe"))))
    v6_bundle_arch = pkg(arch="mips")  # v6 bundles say "mips" for mipsbe boards
    assert error_messages(check_install([("r.npk", v6_bundle_arch)], board(arch="mipsbe"))) == []


def test_minimum_version_rule_understands_betas_and_rcs():
    assert error_messages(check_install([("r.npk", SYSTEM)], board(min_os="7.16.1"))) == []
    assert any("older than the board's minimum 7.17" in m for m in error_messages(
        check_install([("r.npk", SYSTEM)], board(min_os="7.17"))))
    rc = pkg(version="7.16rc2")
    assert error_messages(check_install([("r.npk", rc)], board(min_os="7.1beta5"))) == []
    assert error_messages(check_install([("r.npk", rc)], board(min_os="7.16")))


def test_boot_image_older_than_board_minimum():
    assert any("boot image 7.11.2 is older" in m for m in error_messages(
        check_install([("r.npk", SYSTEM)], board(min_os="7.12", image="7.11.2"))))


def test_frame_limit_rule():
    assert error_messages(check_install([("r.npk", SYSTEM)], transfer=limits(65535))) == []
    assert any("exceed the protocol's limit" in m for m in
               error_messages(check_install([("r.npk", SYSTEM)], transfer=limits(65536))))


def test_mode_script_needs_7_22():
    script = [ScriptCheck("mode.rsc", b"/system device-mode update container=yes\n", True)]
    assert any("needs RouterOS 7.22" in m
               for m in error_messages(check_install([("r.npk", SYSTEM)], scripts=script)))
    new = pkg(version="7.22")
    assert error_messages(check_install([("r.npk", new)], scripts=script)) == []


def test_script_errors_are_pairing_errors():
    script = [ScriptCheck("bad.rsc", b"\xef\xbb\xbf:put 1\n")]
    assert error_messages(check_install([("r.npk", SYSTEM)], scripts=script))


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def files(tmp_path):
    (tmp_path / "routeros-7.16.1-arm64.npk").write_bytes(build_npk())
    (tmp_path / "container-7.16.1-arm64.npk").write_bytes(
        build_npk("container", requires=("system", "7.16.1")))
    (tmp_path / "broken.npk").write_bytes(b"<html>404</html>")
    (tmp_path / "ok.rsc").write_bytes(b":delay 5s\n/system identity set name=x\n")
    # A byte-order mark: RouterOS reads it as part of the first command (an error)
    (tmp_path / "bad.rsc").write_bytes(b"\xef\xbb\xbf:put 1\n")
    return tmp_path


def test_cli_passes_with_exit_0_and_json(files):
    result = run_cli("validate", "--json", "--arch", "arm64", "--min-os", "7.12", "--config",
                     str(files / "ok.rsc"), str(files / "routeros-7.16.1-arm64.npk"),
                     str(files / "container-7.16.1-arm64.npk"))
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert [p["name"] for p in report["packages"]] == ["system", "container"]
    assert report["packages"][0]["version"] == "7.16.1"
    assert report["errors"] == 0


def test_cli_fails_with_exit_1_and_lists_the_finding(files):
    result = run_cli("validate", "--arch", "mipsbe", str(files / "routeros-7.16.1-arm64.npk"))
    assert result.returncode == 1
    assert "the board is mipsbe" in result.stdout
    result = run_cli("validate", "--json", "--config", str(files / "bad.rsc"),
                     str(files / "routeros-7.16.1-arm64.npk"))
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert report["findings"][0]["line"] == 1 and report["findings"][0]["subject"] == "bad.rsc"


def test_cli_reports_an_unreadable_package_as_a_finding(files):
    result = run_cli("validate", "--json", str(files / "broken.npk"))
    assert result.returncode == 1
    assert "HTML page" in json.loads(result.stdout)["findings"][0]["message"]


@pytest.mark.parametrize("args", [
    ["validate"],  # no package
    ["validate", "/nonexistent.npk"],
    ["validate", "--min-os", "seven", "PKG"],
])
def test_cli_usage_errors_exit_2(files, args):
    args = [str(files / "routeros-7.16.1-arm64.npk") if a == "PKG" else a for a in args]
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_info_prints_metadata(files):
    result = run_cli("info", "--json", str(files / "container-7.16.1-arm64.npk"))
    assert result.returncode == 0
    (record,) = json.loads(result.stdout)["packages"]
    assert record["dependencies"] == [{"name": "system", "min": "7.16.1", "max": "7.16.1"}]
    text = run_cli("info", str(files / "routeros-7.16.1-arm64.npk"))
    assert "system" in text.stdout and "7.16.1" in text.stdout
    assert run_cli("info", str(files / "broken.npk")).returncode == 1
