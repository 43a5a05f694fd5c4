"""Leases of one run only: a board needs its address just to fetch its boot image, and
dnsmasq never lets a BOOTP lease expire, so leases kept across runs would use up the range
(after 127 boards with the default one). Each run of the station (and of ``nitools
dnsmasq --run``) keeps its lease files in a folder of its own, named by its process ID and
removed when it stops; folders of runs that were killed are removed by the next one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LEASES_PREFIX = "nitools-leases-"


def remove_stale_lease_folders(folder: str | None = None) -> list[Path]:
    """Lease folders of runs that were killed (SIGKILL, power loss) before they could
    remove them: named by their process ID, removed once it is gone."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{LEASES_PREFIX}*-*"):
        pid = path.name[len(LEASES_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or not path.is_dir() or path.is_symlink():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        except (PermissionError, OverflowError):
            continue  # alive (someone else's), or no process at all
    return removed


@contextmanager
def run_lease_folder() -> Iterator[str]:
    """A folder for this run's lease files, removed when the run ends."""
    remove_stale_lease_folders()
    folder = tempfile.mkdtemp(prefix=f"{LEASES_PREFIX}{os.getpid()}-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
