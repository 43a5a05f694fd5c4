"""Every command README.md and docs/*.md show runs as printed (issue 29 row 1): each line
of a shell block that starts with `nitools` and needs no root is run in a folder holding
the files the pages name (their boards.csv and template, a first-boot script, a
synthetic package, a journal with the board the pages ask about); a command that cannot
run here is listed below with why, so a new command on a page is either run or named."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from nitools.emulation.synthetic import build_npk
from nitools.journal.attempts import Journal
from nitools.journal.writer import JournalWriter
from tests.helpers import REPO, attempt_events

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Commands that cannot run here, by what they start with, and why
NOT_HERE = {
    "nitools extract netinstall64-7.16.1.zip": "needs MikroTik's netinstall (not ours to "
                                               "ship); tests/unit/commands test extract on "
                                               "PE files built here",
    "nitools extract --list netinstall.exe": "needs MikroTik's netinstall.exe",
    "nitools fetch stable": "needs MikroTik's download server (no network in CI)",
    "nitools extract --version": "needs MikroTik's download server (no network in CI)",
    "nitools dnsmasq -i eth1 --tftp-root /srv/tftp": "needs an interface eth1 and the boot "
                                                     "images extracted into /srv/tftp",
    "nitools dnsmasq -i eth0 --server-ip 192.168.88.1 --tftp-root /data/tftp": "runs in the "
        "container image, whose /data it writes (tests/lab/test_container_lab.py)",
    "nitools emulate --loopback 15001:15000": "runs with the next line, as one block: "
                                              "tests/unit/commands/test_demo.py",
    "nitools flash --plain --loopback 15000:15001": "runs with the line above, as one "
                                                    "block: tests/unit/commands/test_demo.py",
}


def commands() -> list[tuple[str, str]]:
    """(page, command) for every `nitools` line of a shell block, continuations joined,
    comments dropped; lines run with sudo are not here (they need root)."""
    found = []
    for page in PAGES:
        for block in re.findall(r"```(?:sh|bash)\n(.*?)```", page.read_text(), re.S):
            for line in re.sub(r"\\\n\s*", " ", block).splitlines():
                line = re.sub(r"\s+#.*$", "", line).strip()
                if line.startswith("nitools "):
                    found.append((page.name, line))
    return found


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The files the pages name, made here: docs/inventory.md's CSV and template, a
    first-boot script, a synthetic package, and a journal that knows the pages' board."""
    folder = tmp_path_factory.mktemp("docs")
    inventory = (REPO / "docs" / "inventory.md").read_text()
    (folder / "boards.csv").write_text(re.search(r"```csv\n(.*?)```", inventory, re.S)[1])
    (folder / "first-boot.rsc.j2").write_text(
        re.search(r"```jinja\n(.*?)```", inventory, re.S)[1])
    (folder / "first-boot.rsc").write_text(":delay 10s\n/system identity set name=r1\n")
    (folder / "routeros-7.16.1-arm64.npk").write_bytes(build_npk("system", "7.16.1",
                                                                 "arm64", size=4000))
    journal = Journal(folder / "state" / "nitools" / "journal.sqlite3")
    writer = JournalWriter(journal)
    for event in attempt_events(bytes.fromhex("024e49000001")):
        writer(event)
    journal.close()
    return folder


def runnable() -> list[tuple[str, str]]:
    return [(page, command) for page, command in commands()
            if not any(command.startswith(start) for start in NOT_HERE)]


@pytest.mark.parametrize(("page", "command"), runnable(),
                         ids=[f"{page}:{command[:50]}" for page, command in runnable()])
def test_the_pages_commands_run_as_printed(workspace, page, command):
    shell = command.replace("nitools", f"{sys.executable} -m nitools", 1).replace(
        "/tmp/", f"{workspace}/tmp/")
    env = {"PYTHONPATH": str(REPO), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "XDG_STATE_HOME": str(workspace / "state"), "HOME": str(workspace),
           "NITOOLS_JOURNAL": str(workspace / "state" / "nitools" / "journal.sqlite3")}
    done = subprocess.run(["bash", "-c", shell], cwd=workspace, capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, f"{page}: {command}\n{done.stderr[-2000:]}"


def test_every_command_not_run_here_is_still_on_a_page_and_most_run():
    shown = [command for _, command in commands()]
    for start in NOT_HERE:
        assert any(command.startswith(start) for command in shown), start
    assert len(runnable()) >= 12  # the list above is the exception
