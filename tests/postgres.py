"""A throw-away PostgreSQL cluster for tests: the real server from the distribution's
packages, in a temporary folder, listening on a Unix socket only (no TCP port)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Cluster:
    def __init__(self, folder: Path, bin_dir: Path) -> None:
        self.folder, self.bin = folder, bin_dir
        self.data, self.socket = folder / "data", folder / "socket"
        self.url = f"postgresql://nitools@/nitools?host={self.socket}"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def new_database(self, name: str) -> str:
        """A fresh, empty database of this cluster; its URL."""
        self._run(str(self.bin / "createdb"), "-h", str(self.socket), "-U", "nitools", name)
        return f"postgresql://nitools@/{name}?host={self.socket}"

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.folder / "server.log"), "-w", "-o",
                  f"-k {self.socket} -c listen_addresses='' -c fsync=off", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (Debian: apt-get install "
                           "postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="nitools-pg-"))
    folder.chmod(0o755)
    running = Cluster(folder, bin_dir)
    running.socket.mkdir()
    if os.geteuid() == 0:  # initdb refuses root: the server runs as the postgres user
        shutil.chown(folder, "postgres")
        shutil.chown(running.socket, "postgres")
    try:
        running._run(str(bin_dir / "initdb"), "-D", str(running.data), "-U", "nitools",
                     "--auth=trust", "--encoding=UTF8", "--no-sync")
        running.start()
        running._run(str(bin_dir / "createdb"), "-h", str(running.socket), "-U", "nitools",
                     "nitools")
        yield running
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            running._run(str(bin_dir / "pg_ctl"), "-D", str(running.data), "-m", "immediate",
                         "stop")
        shutil.rmtree(folder, ignore_errors=True)
