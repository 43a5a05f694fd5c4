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
    plan_router,
    render,
    syntax_check,
)
from nitools.netboot.dnsmasq_process import run_dnsmasq
from nitools.netboot.run_leases import run_lease_folder

log = logging.getLogger("nitools.dnsmasq")


def run_dnsmasq_command(interface: str, tftp_root: str, range_spec: str | None,
                        lease_time: str, server_ip: str | None, archs: tuple[str, ...],
                        lease_file: str | None, output: str | None, output_format: str,
                        run_it: bool, router_address: str | None = None) -> int:
    if run_it and is_loopback(interface):  # before any other check: nothing else matters
        raise UsageError(LOOPBACK_WARNING.format(name=interface))
    if run_it and output_format != "dnsmasq":
        raise UsageError("--run starts dnsmasq: it cannot be combined with --format routeros")
    if output_format == "routeros":  # the router's interface, network and folder
        return _routeros(interface, tftp_root, range_spec, lease_time, server_ip, archs,
                         output, router_address)
    if router_address is not None:
        raise UsageError("--router-address describes a RouterOS interface: it goes with "
                         "--format routeros")
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


def _routeros(interface: str, tftp_root: str, range_spec: str | None, lease_time: str,
              server_ip: str | None, archs: tuple[str, ...], output: str | None,
              router_address: str | None) -> int:
    """RouterOS commands for the router's own interface: nothing here needs to exist."""
    if router_address is None:
        if os.path.exists(f"/sys/class/net/{interface}"):  # this machine's interface
            plan = plan_netboot(interface, tftp_root, range_spec, lease_time, server_ip,
                                archs)
        else:
            raise UsageError(f"interface {interface} is not on this machine: for the "
                             "router's, give its address there with --router-address "
                             "ADDR/PREFIX (e.g. 192.168.88.1/24)")
    else:
        plan = plan_router(interface, tftp_root, router_address, range_spec, lease_time,
                           server_ip, archs)
    for warning in plan.warnings:
        log.warning("%s", warning)
    text = render(plan, "routeros")
    if output:
        _write(output, text)
        log.info("wrote %s: %s", output, ", ".join(i.boot_file for i in plan.images))
    else:
        print(text, end="")
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
