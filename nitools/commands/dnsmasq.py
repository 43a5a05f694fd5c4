"""``nitools dnsmasq``: plan, render, check, then print, write or run."""

from __future__ import annotations

import logging
import os
import tempfile

from nitools.errors import UsageError
from nitools.netboot.dnsmasq import (
    LOOPBACK_WARNING,
    DnsmasqError,
    is_loopback,
    plan_netboot,
    render,
    syntax_check,
)
from nitools.netboot.dnsmasq_process import run_dnsmasq
from nitools.netboot.run_leases import run_lease_folder

log = logging.getLogger("nitools.dnsmasq")


def run_dnsmasq_command(interface: str, tftp_root: str, range_spec: str | None,
                        lease_time: str, server_ip: str | None, archs: tuple[str, ...],
                        lease_file: str | None, output: str | None, output_format: str,
                        run_it: bool) -> int:
    if run_it and is_loopback(interface):  # before any other check: nothing else matters
        raise UsageError(LOOPBACK_WARNING.format(name=interface))
    if run_it and output_format != "dnsmasq":
        raise UsageError("--run starts dnsmasq: it cannot be combined with --format routeros")
    if run_it and lease_file is None:
        with run_lease_folder() as folder:  # BOOTP leases of this run only
            lease_file = os.path.join(folder, f"{interface}.leases")
            log.info("leases of this run only, in %s (dnsmasq never lets a BOOTP lease "
                     "expire: kept across runs they would use up the range)", lease_file)
            return _run(interface, tftp_root, range_spec, lease_time, server_ip, archs,
                        lease_file, output, output_format, run_it)
    return _run(interface, tftp_root, range_spec, lease_time, server_ip, archs, lease_file,
                output, output_format, run_it)


def _run(interface: str, tftp_root: str, range_spec: str | None, lease_time: str,
         server_ip: str | None, archs: tuple[str, ...], lease_file: str | None,
         output: str | None, output_format: str, run_it: bool) -> int:
    plan = plan_netboot(interface, tftp_root, range_spec, lease_time, server_ip, archs,
                        lease_file)
    for warning in plan.warnings:
        log.warning("%s", warning)
    text = render(plan, output_format)
    if output_format == "dnsmasq":
        try:
            syntax_check(text)
        except DnsmasqError as exc:
            if "not installed" not in str(exc) or run_it:
                raise
            log.warning("dnsmasq is not installed here: the config was not syntax-checked")
    if output:
        _write(output, text)
        log.info("wrote %s: %s", output, ", ".join(i.boot_file for i in plan.images))
    elif not run_it:
        print(text, end="")
    if run_it:
        return run_dnsmasq(plan, text)
    return 0


def _write(path: str, text: str) -> None:
    # Replacing by rename would turn /dev/null (or a FIFO, a socket) into a plain file.
    if (os.path.exists(path) and not os.path.isfile(path)) or os.path.isdir(path):
        raise UsageError(f"-o {path} is not a regular file: give the path of the config "
                         "file to write (or leave -o out to print it)")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(prefix=".nitools-", dir=folder)
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        raise DnsmasqError(f"cannot write {path}: {exc.strerror}") from exc
