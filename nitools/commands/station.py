"""``nitools station``: BOOTP/DHCP + TFTP (the real dnsmasq, one per port) and the flash
engine in one command, one configuration, one log, one journal.

Order: every setting is checked (as ``flash`` does), then the preflight (interfaces,
ports, firewall), then the boot images (a folder, or fetched by version), then
dnsmasq, then the flashing link. SIGTERM or Ctrl-C stops both; if dnsmasq dies,
the station stops too (a station that cannot boot boards must not look healthy).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from nitools.commands.flash import RunningServices, run_flash
from nitools.errors import NitoolsError, UsageError
from nitools.netboot.dnsmasq import DnsmasqError, plan_netboot, render, syntax_check
from nitools.netboot.dnsmasq_log import DnsmasqLogReader, Sighting
from nitools.netboot.dnsmasq_process import DnsmasqProcess
from nitools.netboot.leases import LeaseKeeper
from nitools.netboot.run_leases import LEASES_PREFIX, remove_stale_lease_folders
from nitools.routeros.npk import read_package
from nitools.station.engine.settings import EngineSettings
from nitools.station.setup.options import StationOptions
from nitools.station.setup.port_setup import choose_ports
from nitools.station.setup.preflight import preflight, raise_problems

log = logging.getLogger("nitools.station")

READY_TIMEOUT = 10.0  # dnsmasq says "TFTP root is ..." within a second when it works


@dataclass(frozen=True)
class NetbootOptions:
    """The BOOTP/DHCP + TFTP side of ``nitools station`` (the rest is StationOptions)."""

    tftp_root: str | None = None
    boot_version: str | None = None
    range_spec: str | None = None
    lease_time: str = "1h"
    server_ip: str | None = None
    boot_archs: tuple[str, ...] = ()
    no_dhcp: bool = False
    range_option: str = "--range"  # the option the range came from (-a: one address)


def run_station_command(options: StationOptions, netboot: NetbootOptions) -> int:
    options, chosen = choose_ports(options)  # said once the log is set up (run_flash)
    interfaces = options.interfaces
    if options.address:
        if len(interfaces) != 1:
            raise UsageError("-a hands one address to one board: give it with one -i only")
        if options.multiple or (options.count or 1) > 1:
            # dnsmasq never releases a BOOTP lease: the first board would keep the address
            raise UsageError("-a hands its one address to one board per run: with -m or "
                             "--count give --range START,END instead")
        netboot = replace(netboot, range_spec=f"{options.address},{options.address}",
                          range_option="-a")
        options = replace(options, address=None)  # BOOTP's, not the flasher's
    died: list[str] = []

    def start_services(stop: Callable[[], None], seen: Callable[[Sighting], None]
                       ) -> RunningServices:
        return _start_services(options, netboot, died, stop, seen)

    code = run_flash(options, services=start_services, notes=(chosen,) if chosen else ())
    if died:
        log.error("%s", died[0])
        return max(code, 1)
    return code


def _start_services(options: StationOptions, netboot: NetbootOptions, died: list[str],
                    stop_station: Callable[[], None],
                    seen: Callable[[Sighting], None] = lambda sighting: None
                    ) -> RunningServices:
    """Preflight, then one dnsmasq per port; ``seen`` gets what dnsmasq did for each board
    (its log read line by line: the boards' timelines and silent boards); the lease keeper
    gives back the addresses of boards the station is done with."""
    interfaces = options.interfaces
    serve = not netboot.no_dhcp
    raise_problems(preflight(interfaces, serve_dhcp=serve))
    log.info("preflight: %s ready%s", ", ".join(interfaces),
             "" if serve else " (DHCP/TFTP left to another server)")
    if not serve:
        return RunningServices(lambda: None)
    root = _tftp_root(netboot, options)
    processes: list[DnsmasqProcess] = []
    # Leases of this run only: a board needs its address just to fetch the boot image,
    # and BOOTP leases never expire, so leases kept across runs would use up the range.
    remove_stale_lease_folders()
    leases = tempfile.mkdtemp(prefix=f"{LEASES_PREFIX}{os.getpid()}-")

    def on_exit(process: DnsmasqProcess, code: int) -> None:
        died.append(f"dnsmasq for {process.plan.interface.name} stopped (exit {code}): "
                    f"{process.failure()}: the station stops")
        stop_station()  # as a SIGTERM would: installs under way may finish

    keeper: LeaseKeeper | None = None

    def stop_all() -> None:
        for process in processes:
            process.stop()
        if keeper is not None:
            keeper.close()
        shutil.rmtree(leases, ignore_errors=True)

    try:
        for interface in interfaces:
            plan = plan_netboot(interface, root, netboot.range_spec, netboot.lease_time,
                                netboot.server_ip, netboot.boot_archs,
                                lease_file=os.path.join(leases, f"{interface}.leases"),
                                range_option=netboot.range_option)
            for warning in plan.warnings:
                log.warning("%s", warning)
            text = render(plan)
            syntax_check(text)
            reader = DnsmasqLogReader(tuple(vendor for image in plan.images
                                            for vendor in image.vendor_classes))
            process = DnsmasqProcess(plan, text, _reading(reader, seen))
            process.start(on_exit)
            processes.append(process)
        _wait_ready(processes)
        plans = [process.plan for process in processes]
        keeper = LeaseKeeper(
            {plan.interface.name: str(plan.interface.address) for plan in plans},
            {plan.interface.name: int(plan.range_end) - int(plan.range_start) + 1
             for plan in plans},
            options.announce_timeout or EngineSettings.announce_timeout)
    except BaseException:
        died.clear()
        stop_all()
        raise
    return RunningServices(stop_all, keeper)


def _reading(reader: DnsmasqLogReader, seen: Callable[[Sighting], None]
             ) -> Callable[[str], None]:
    def read(line: str) -> None:
        for sighting in reader.feed(line, time.monotonic()):
            seen(sighting)
    return read


def _wait_ready(processes: list[DnsmasqProcess]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    for process in processes:
        while not process.ready.wait(0.05):
            if process.process is not None and process.process.poll() is not None:
                process.stopping = True  # its failure is raised here, not reported twice
                raise DnsmasqError(process.failure())
            if time.monotonic() > deadline:
                raise DnsmasqError(f"dnsmasq for {process.plan.interface.name} did not start "
                                   f"within {READY_TIMEOUT:g} s: {process.failure()}")


def boot_version(netboot: NetbootOptions, options: StationOptions) -> str | None:
    """Which RouterOS's boot images to fetch: --boot-version; else, with no --tftp-root,
    the --routeros version, or the version of the system package given as an argument
    (as netinstall-cli serves its own boot images)."""
    if netboot.boot_version or netboot.tftp_root:
        return netboot.boot_version
    if options.routeros:
        return options.routeros
    for path in options.packages:
        with contextlib.suppress(NitoolsError):
            package = read_package(path, label=os.path.basename(path))
            if package.is_system:
                return str(package.version)
    return None


def _tftp_root(netboot: NetbootOptions, options: StationOptions) -> str:
    """The boot images: the --tftp-root folder as it is, or (``boot_version``)
    netinstall-VERSION.zip fetched through the cache and extracted into --tftp-root
    (default: /var/lib/nitools/bootimages/VERSION as root, the cache otherwise)."""
    version = boot_version(netboot, options)
    if not version:
        if netboot.tftp_root:
            return str(netboot.tftp_root)
        raise UsageError("say where the boot images are: --tftp-root DIR (from 'nitools "
                         "extract'), or --boot-version VERSION to fetch them")
    from nitools.commands.extract import manifest, plan, write
    from nitools.commands.fetch import fetch_netinstall
    from nitools.fetch.package_cache import default_cache_dir
    from nitools.netboot.bootimages import extract_file

    archive = fetch_netinstall(version, options.mirror, keep_logging=True)
    name = archive.parent.name  # the version the cache resolved
    if netboot.tftp_root:
        folder = Path(netboot.tftp_root)
    elif os.geteuid() == 0:
        folder = Path("/var/lib/nitools/bootimages") / name
    else:
        folder = default_cache_dir() / "bootimages" / name
    extractions = extract_file(str(archive))
    try:
        entries = plan(extractions, folder)
        if any(entry.action != "unchanged" for entry in entries):
            folder.mkdir(parents=True, exist_ok=True)
            write(entries, folder, True, manifest(extractions, entries))
    finally:
        for extraction in extractions:
            extraction.close()
    _world_readable(folder)
    log.info("boot images of RouterOS %s in %s", name, folder)
    return str(folder)


def _world_readable(folder: Path) -> None:
    """dnsmasq serves TFTP as an unprivileged user."""
    for path in [folder, *folder.parents]:
        if path == Path("/"):
            break
        mode = path.stat().st_mode
        if not mode & 0o001:
            log.warning("%s is not traversable by other users: dnsmasq cannot read the boot "
                        "images below it (chmod o+x %s, or give --tftp-root)", path, path)
            break
    folder.chmod(0o755)
    for file in folder.iterdir():
        file.chmod(0o644)
