"""Runs dnsmasq for ``nitools dnsmasq --run`` and takes it down when nitools dies.

dnsmasq drops its privileges to an unprivileged user, which clears the parent-death
signal nitools sets on it: killed outright (SIGKILL), nitools would leave it serving
DHCP. This guard stays between them, keeps the parent-death signal (it never changes
user), and on SIGTERM (from nitools, or from the kernel when nitools dies) stops
dnsmasq and removes the run-time folder.

    python -m nitools.netboot.dnsmasq_guard RUNTIME_DIR DNSMASQ_COMMAND...
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys


def main(argv: list[str]) -> int:
    runtime, command = argv[0], argv[1:]
    child = subprocess.Popen(command)  # stdout and stderr go where ours go: to nitools

    def stop(*_: object) -> None:
        if child.poll() is None:
            child.terminate()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    try:
        return child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        shutil.rmtree(runtime, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
