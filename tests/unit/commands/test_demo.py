"""``nitools demo`` and the README's emulator example, as printed (issue 29 row 19: it
never exited, and no command made the synthetic packages it needed)."""

import re
import subprocess
import sys

from tests.helpers import REPO


def test_the_readmes_emulated_boards_example_runs_as_printed_and_ends(tmp_path):
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Emulated boards.*?```sh\n(.*?)```", readme, re.S)[1]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    assert lines[0].startswith("nitools demo") and "--count 2" in lines[2]
    script = "\n".join(line.replace("nitools", f"{sys.executable} -m nitools", 1)
                       .replace("/tmp/", f"{tmp_path}/") for line in lines) + "\nwait\n"
    done = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    boards = sorted((tmp_path / "boards").iterdir())
    assert len(boards) == 2
    for board in boards:
        assert (board / "routeros-7.16.1-arm64.npk").read_bytes() == \
            (tmp_path / "demo" / "routeros-7.16.1-arm64.npk").read_bytes()
