"""Running the real dnsmasq with a rendered config: in the foreground for
``nitools dnsmasq --run``, in the background for ``nitools station``.

dnsmasq runs under ``dnsmasq_guard`` (so a nitools killed outright never leaves it
serving DHCP), its log lines are relayed into ours, and a start-up failure becomes
one line saying what to fix.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nitools.errors import UsageError
from nitools.netboot.dnsmasq import (
    LOOPBACK_WARNING,
    DnsmasqError,
    NetbootPlan,
    dhcp_port_taken,
    find_dnsmasq,
    is_loopback,
    translate_failure,
)
from nitools.netboot.udp_ports import held_by

log = logging.getLogger("nitools.dnsmasq")


class DnsmasqProcess:
    """One dnsmasq for one plan (one interface)."""

    def __init__(self, plan: NetbootPlan, config_text: str,
                 on_line: Callable[[str], None] | None = None) -> None:
        self.plan = plan
        self.config_text = config_text
        # every log line, as it comes (the boards' timelines); the station that reads them
        # says one line per board itself, so dnsmasq's own lines about boards go to DEBUG
        self.on_line = on_line
        self.process: subprocess.Popen[str] | None = None
        self.stopping = False
        self.lines: list[str] = []  # the last lines it printed, for failure messages
        self.ready = threading.Event()  # its TFTP server is up
        self._runtime = ""
        self._reader: threading.Thread | None = None

    def start(self, on_exit: Callable[[DnsmasqProcess, int], None] | None = None) -> None:
        """Start it; ``on_exit(self, code)`` runs (in a thread) if it ends by itself."""
        if is_loopback(self.plan.interface.name):
            raise UsageError(LOOPBACK_WARNING.format(name=self.plan.interface.name))
        binary = find_dnsmasq()
        _check_lease_folder(self.plan.lease_file)
        self._runtime = tempfile.mkdtemp(prefix="nitools-dnsmasq-")
        config_path = os.path.join(self._runtime, "dnsmasq.conf")
        with open(config_path, "w") as handle:
            handle.write(self.config_text)
        os.chmod(self._runtime, 0o755)
        command = [binary, "--keep-in-foreground", f"--conf-file={config_path}",
                   "--log-facility=-", "--pid-file="]
        # Through the guard: dnsmasq itself loses the parent-death signal when it drops
        # privileges, so a nitools killed outright would leave it serving (dnsmasq_guard).
        # In a session of its own: Ctrl-C in the terminal and systemd's SIGTERM to the
        # whole group reach nitools only, which keeps dnsmasq serving until the installs
        # under way have ended, then stops it.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nitools.netboot.dnsmasq_guard", self._runtime, *command],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1, start_new_session=True, preexec_fn=_die_with_parent)
        log.info("dnsmasq %d started for %s: %s", self.process.pid, self.plan.interface.name,
                 ", ".join(f"{i.boot_file} for {'/'.join(i.vendor_classes)}"
                           for i in self.plan.images))
        self._reader = threading.Thread(target=self._relay_all, args=(on_exit,),
                                        name=f"dnsmasq-{self.plan.interface.name}",
                                        daemon=True)
        self._reader.start()

    def failure(self) -> str:
        return translate_failure(self.lines, self.plan)

    def wait(self) -> int:
        assert self.process is not None
        code = self.process.wait()
        if self._reader is not None:
            self._reader.join(5)
        return code

    def stop(self) -> None:
        self.stopping = True
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(5)
        shutil.rmtree(self._runtime, ignore_errors=True)

    def _relay_all(self, on_exit: Callable[[DnsmasqProcess, int], None] | None) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            line = line.rstrip()
            self.lines = [*self.lines, line][-20:]
            if "TFTP root is" in line:
                self.ready.set()
            _relay(line, boards_said_elsewhere=self.on_line is not None)
            if self.on_line is not None:
                try:
                    self.on_line(line)
                except Exception:  # a reader's bug must not stop the relay of dnsmasq's log
                    log.exception("reading dnsmasq's line %r failed", line)
        code = self.process.wait()
        if not self.stopping and on_exit is not None:
            on_exit(self, code)


def run_dnsmasq(plan: NetbootPlan, config_text: str) -> int:
    """``nitools dnsmasq --run``: in the foreground until a signal; relay its log."""
    if is_loopback(plan.interface.name):
        raise UsageError(LOOPBACK_WARNING.format(name=plan.interface.name))
    find_dnsmasq()
    if dhcp_port_taken():
        raise DnsmasqError(f"another DHCP server already listens on UDP port 67 here"
                           f"{held_by(67)}: stop it "
                           "first (nitools will not fight over the port)")
    dnsmasq = DnsmasqProcess(plan, config_text)

    def stop(*_: Any) -> None:
        dnsmasq.stopping = True
        if dnsmasq.process is not None:
            with contextlib.suppress(ProcessLookupError):
                dnsmasq.process.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        dnsmasq.start()
        code = dnsmasq.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        dnsmasq.stop()
    if dnsmasq.stopping:
        log.info("dnsmasq stopped")
        return 0
    if code != 0:
        raise DnsmasqError(dnsmasq.failure())
    return 0


def _check_lease_folder(lease_file: str) -> None:
    lease_folder = Path(lease_file).parent
    try:
        lease_folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DnsmasqError(f"cannot create the folder of the lease file {lease_file}: "
                           f"{exc.strerror}: choose another with --lease-file") from exc
    if not os.access(lease_folder, os.W_OK):
        raise DnsmasqError(f"cannot write the lease file {lease_file}: its folder is not "
                           "writable: choose another with --lease-file")


def _die_with_parent() -> None:
    # If nitools is killed outright, dnsmasq must not live on (Linux prctl PR_SET_PDEATHSIG).
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


_BOARD_LINE = re.compile(r"^(?:sent \S.* to \d|\d+ vendor class: |\d+ (?:BOOTP|DHCPACK)\()")


def _relay(line: str, boards_said_elsewhere: bool = False) -> None:
    """dnsmasq's line into nitools' log: failures as warnings; its start at INFO; what it
    did for a board (the request's vendor class, the reply, the boot image sent) at INFO
    unless the station says that itself, one line per board; the rest (options sent,
    tags, ranges) at DEBUG."""
    text = line.split(": ", 1)[1] if line.startswith("dnsmasq") and ": " in line else line
    if "TFTP error" in text or "failed" in text.lower():
        log.warning("dnsmasq: %s", text)
    elif "TFTP root is" in text or "DHCP, IP range" in text or (
            not boards_said_elsewhere and _BOARD_LINE.match(text)):
        log.info("dnsmasq: %s", text)
    else:
        log.debug("dnsmasq: %s", text)
