"""``nitools validate`` with scripts on their own: many at once, each linted as a script."""

import json
import subprocess
import sys

from nitools.commands.validate import is_script_path
from nitools.emulation.synthetic import build_npk
from tests.helpers import REPO, run_cli

GOOD = b'/system identity set name=r1\n:put "a\nb"\n'  # a string may span lines
BOM = b"\xef\xbb\xbf:put 1\n"  # RouterOS reads the mark as part of the first command


def test_the_documented_command_lints_many_scripts_alone(tmp_path):
    # docs/formats.md §3: "nitools validate --json first-boot.rsc site-*.rsc", as printed
    (tmp_path / "first-boot.rsc").write_bytes(GOOD)
    (tmp_path / "site-a.rsc").write_bytes(GOOD)
    (tmp_path / "site-b.rsc").write_bytes(BOM)
    documented = (REPO / "docs" / "formats.md").read_text()
    command = "nitools validate --json first-boot.rsc site-*.rsc"
    assert f"    {command}\n" in documented
    shell = command.replace("nitools", f"{sys.executable} -m nitools", 1)
    done = subprocess.run(shell, shell=True, cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 1, done.stderr  # site-b.rsc has an error
    answer = json.loads(done.stdout)
    assert answer["packages"] == []
    assert [(s["file"], s["errors"]) for s in answer["scripts"]] == [
        ("first-boot.rsc", 0), ("site-a.rsc", 0), ("site-b.rsc", 1)]
    assert [(f["subject"], f["line"]) for f in answer["findings"]] == [("site-b.rsc", 1)]
    assert answer["errors"] == 1


def test_scripts_that_pass_exit_0_and_say_how_many(tmp_path):
    for name in ("a.rsc", "b.RSC"):
        (tmp_path / name).write_bytes(GOOD)
    result = run_cli("validate", "a.rsc", "b.RSC", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 script(s): validation passes (0 error(s))" in result.stdout


def test_scripts_in_folders_are_named_by_their_path(tmp_path):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "snippet.rsc").write_bytes(BOM)
    result = run_cli("validate", "--json", "x/snippet.rsc", "y/snippet.rsc", cwd=tmp_path)
    subjects = [f["subject"] for f in json.loads(result.stdout)["findings"]]
    assert subjects == ["x/snippet.rsc", "y/snippet.rsc"]


def test_packages_and_a_script_alone_together(tmp_path):
    (tmp_path / "routeros-7.16.1-arm64.npk").write_bytes(build_npk("system", "7.16.1", "arm64"))
    (tmp_path / "extra.rsc").write_bytes(BOM)
    result = run_cli("validate", "--json", "--arch", "arm64", "routeros-7.16.1-arm64.npk",
                     "extra.rsc", cwd=tmp_path)
    answer = json.loads(result.stdout)
    assert [p["name"] for p in answer["packages"]] == ["system"]
    assert [s["file"] for s in answer["scripts"]] == ["extra.rsc"]
    assert answer["errors"] == 1 and result.returncode == 1


def test_only_rsc_names_are_scripts():
    assert is_script_path("a.rsc") and is_script_path("dir/B.RSC")
    assert not is_script_path("routeros.npk") and not is_script_path("rsc")


def test_the_agreement_benchmark_fails_on_an_error_in_an_accepted_script(tmp_path):
    (tmp_path / "ok.rsc").write_bytes(GOOD)
    (tmp_path / "bom.rsc").write_bytes(BOM)
    (tmp_path / "unlisted.rsc").write_bytes(BOM)  # not marked as accepted: not judged
    (tmp_path / "parsed-by-routeros.json").write_text('{"ok.rsc": ["7.22.1"], "bom.rsc": []}')
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "rsc_agreement.py"),
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "scripts with an error finding: 1 / 2" in done.stdout
    assert "error in: bom.rsc" in done.stdout
    (tmp_path / "bom.rsc").write_bytes(GOOD)
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "rsc_agreement.py"),
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "0 / 2" in done.stdout
