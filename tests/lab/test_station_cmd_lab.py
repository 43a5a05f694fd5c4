"""`nitools station` end to end in the namespace lab: a netboot client gets its boot
image over BOOTP + TFTP from the station's own dnsmasq, then an emulated board on the
same port is flashed; two ports; configuration from the environment only; SIGTERM
stops both; and each preflight failure says what to fix."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from nitools.netboot.run_leases import LEASES_PREFIX
from nitools.station.setup import preflight
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO

pytestmark = pytest.mark.lab
DNSMASQ = shutil.which("dnsmasq", path=os.pathsep.join([os.environ.get("PATH", ""),
                                                         "/usr/sbin", "/sbin"]))
needs_dnsmasq = pytest.mark.skipif(DNSMASQ is None, reason="dnsmasq is not installed "
                                   "(Debian: apt-get install dnsmasq-base)")


def address(pair, interface: str, cidr: str) -> None:
    subprocess.run(["ip", "-n", pair.flasher_ns, "addr", "add", cidr, "dev", interface],
                   check=True)


class Log:
    """The station's stderr, read as it comes."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process, self.lines = process, []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip())

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None or time.monotonic() < deadline, self.text
            assert time.monotonic() < deadline, self.text
            time.sleep(0.05)

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout)
        self.thread.join(5)
        return code

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def netboot(pair, interface: str) -> dict:
    result = subprocess.run(
        ["ip", "netns", "exec", pair.board_ns, sys.executable, "-m", "tests.lab.netboot_client",
         interface, "bootp", "ARM64__boot", "--tftp", "netinstall.arm64"],
        capture_output=True, text=True, timeout=30, env=dict(os.environ, PYTHONPATH=str(REPO)),
        check=True)
    return json.loads(result.stdout)


def dnsmasq_pids(pair) -> list[int]:
    """The dnsmasq processes running in the station's namespace."""
    pids = subprocess.run(["ip", "netns", "pids", pair.flasher_ns], capture_output=True,
                          text=True).stdout.split()
    comm = {pid: Path(f"/proc/{pid}/comm") for pid in pids}
    return [int(pid) for pid, path in comm.items()
            if path.exists() and path.read_text().strip() == "dnsmasq"]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@needs_dnsmasq
def test_bootp_and_tftp_then_the_board_is_flashed_then_all_stops(station, boot_root, package):
    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")
    process = pair.start(pair.flasher_ns, "station", "--plain", "-i", FLASHER_IF, "--tftp-root",
                         str(boot_root), "--journal", str(station.journal), "-r",
                         "-a", "192.0.2.50", str(package))
    log = Log(process)
    log.wait_for("TFTP root is")
    log.wait_for("listening on interface fl0")
    booted = netboot(pair, BOARD_IF)
    assert booted["reply"]["file"] == "netinstall.arm64"
    assert booted["reply"]["yiaddr"] == "192.0.2.50"  # -a: the one address handed out
    assert booted["reply"]["siaddr"] == "192.0.2.1"
    assert booted["tftp"]["sha256"] == sha((boot_root / "netinstall.arm64").read_bytes())
    station.emulate("--seed", "81")
    assert log.finish() == 0, log.text  # no -m: one board, then exit
    (board,) = station.summaries()
    assert board["installed"]
    assert [f["sha256"] for f in board["files"]] == [sha(package.read_bytes())]
    assert "preflight: fl0 ready" in log.text
    assert dnsmasq_pids(pair) == []


def serving(station, boot_root, package) -> Log:
    """A station with -m on fl0, up and listening."""
    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")
    log = Log(pair.start(pair.flasher_ns, "station", "--plain", "-m", "-i", FLASHER_IF,
                         "--tftp-root", str(boot_root), "--journal", str(station.journal),
                         str(package)))
    log.wait_for("listening on interface fl0")
    return log


@needs_dnsmasq
def test_the_station_stops_when_its_dnsmasq_dies(station, boot_root, package):
    log = serving(station, boot_root, package)
    (dnsmasq,) = dnsmasq_pids(station.pair)
    os.kill(dnsmasq, signal.SIGKILL)
    assert log.finish(30) == 1, log.text
    assert "dnsmasq for fl0 stopped (exit" in log.text and "the station stops" in log.text


@needs_dnsmasq
def test_sigterm_stops_flashing_and_dnsmasq(station, boot_root, package):
    log = serving(station, boot_root, package)
    log.process.send_signal(signal.SIGTERM)
    assert log.finish(30) == 0, log.text
    assert dnsmasq_pids(station.pair) == []


@needs_dnsmasq
def test_two_ports_each_with_its_own_dhcp_and_boards(station, boot_root, package):
    pair = station.pair
    pair.add_port("fl1", "bd1")
    address(pair, FLASHER_IF, "192.0.2.1/24")
    address(pair, "fl1", "198.51.100.1/24")
    process = pair.start(pair.flasher_ns, "station", "--plain", "-i", FLASHER_IF, "-i", "fl1",
                         "--tftp-root", str(boot_root), "--journal", str(station.journal),
                         "--count", "2", "-r", "-m", str(package))
    log = Log(process)
    log.wait_for("listening on interfaces fl0, fl1")
    assert netboot(pair, "bd1")["reply"]["siaddr"] == "198.51.100.1"
    assert netboot(pair, BOARD_IF)["reply"]["siaddr"] == "192.0.2.1"
    station.emulate("--seed", "82")
    station.emulators.append(pair.start(pair.board_ns, "emulate", "-i", "bd1", "--timeout",
                                        "40", "--format-time", "0.2", "--seed", "83"))
    assert log.finish() == 0, log.text
    assert all(board["installed"] for board in station.summaries())
    assert sorted(row["port"] for row in station.rows()) == ["fl0", "fl1"]


@needs_dnsmasq
def test_configuration_from_the_environment_only(station, boot_root, package, tmp_path):
    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")
    config = tmp_path / "station.ini"
    config.write_text(f"[nitools]\nfirmware = {package}\n")
    environment = {"NITOOLS_INTERFACE": FLASHER_IF, "NITOOLS_TFTP_ROOT": str(boot_root),
                   "NITOOLS_CONFIG": str(config), "NITOOLS_JOURNAL": str(station.journal),
                   "NITOOLS_ONE_SHOT": "1", "NITOOLS_PLAIN": "1",
                   "NITOOLS_CONFIG_MODE": "empty"}
    process = pair.start(pair.flasher_ns, "station", env=environment)
    log = Log(process)
    log.wait_for("listening on interface fl0")
    station.emulate("--seed", "84")
    assert log.finish() == 0, log.text
    (board,) = station.summaries()
    assert board["installed"] and [f["name"] for f in board["files"]][-1] == "autorun.scr"
    assert [row["config_mode"] for row in station.rows()] == ["empty"]


# ------------------------------------------------------------------ preflight


def preflight_error(station, boot_root, package, *args: str) -> str:
    pair = station.pair
    process = pair.start(pair.flasher_ns, "station", "--plain", "--tftp-root", str(boot_root),
                         "--journal", str(station.journal), *args, str(package))
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1, err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def nft(pair, *rules: str) -> None:
    for rule in rules:
        subprocess.run(["ip", "netns", "exec", pair.flasher_ns, "nft", *rule.split()],
                       check=True)


@needs_dnsmasq
def test_each_preflight_failure_says_what_to_fix(station, boot_root, package):
    pair = station.pair
    err = preflight_error(station, boot_root, package, "-i", "nope0")
    assert err == ("nitools: error: interface nope0 does not exist: check the name with "
                   "'ip link'")
    err = preflight_error(station, boot_root, package, "-i", FLASHER_IF)
    assert err.startswith("nitools: error: interface fl0 has no IPv4 address: add one")
    address(pair, FLASHER_IF, "192.0.2.1/24")
    subprocess.run(["ip", "-n", pair.flasher_ns, "link", "set", FLASHER_IF, "down"], check=True)
    err = preflight_error(station, boot_root, package, "-i", FLASHER_IF)
    assert err == "nitools: error: interface fl0 is down: bring it up with 'ip link set fl0 up'"
    subprocess.run(["ip", "-n", pair.flasher_ns, "link", "set", FLASHER_IF, "up"], check=True)
    pair.wait_for_carrier()
    for port, what in ((67, "DHCP"), (69, "TFTP")):
        holder = pair.start(pair.flasher_ns, str(port), module="tests.lab.hold_port")
        assert holder.stdout.readline().strip() == "holding"
        err = preflight_error(station, boot_root, package, "-i", FLASHER_IF)
        assert re.fullmatch(  # and which process holds it (issue 29 row 17)
            f"nitools: error: another {what} server already listens on UDP port {port} here "
            rf"\(python[0-9.]* \(pid {holder.pid}\)\): stop it first \(nitools will not "
            r"fight over the port\)", err), err
        holder.terminate()
        holder.wait(5)


@needs_dnsmasq
@pytest.mark.skipif(shutil.which("nft") is None, reason="nft (nftables) is not installed")
def test_a_firewall_dropping_the_boards_is_named(station, boot_root, package):
    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")
    nft(pair, "add table inet guard",
        "add chain inet guard in { type filter hook input priority 0 ; policy accept ; }",
        "add rule inet guard in iifname fl0 udp dport 5000 drop")
    err = preflight_error(station, boot_root, package, "-i", FLASHER_IF)
    assert err == ("nitools: error: nftables inet guard chain in drops UDP port 5000 "
                   "(netinstall): allow UDP 67, 69, 5000 in on fl0")
    nft(pair, "flush ruleset",
        "add table ip strict",
        "add chain ip strict in { type filter hook input priority 0 ; policy drop ; }",
        "add rule ip strict in ct state established,related accept",
        "add rule ip strict in udp dport { 67, 69 } accept")
    err = preflight_error(station, boot_root, package, "-i", FLASHER_IF)
    assert err == ("nitools: error: nftables ip strict chain in drops by default (policy "
                   "drop) and accepts no UDP port 5000 (netinstall): allow UDP 67, 69, 5000 "
                   "in on fl0")
    nft(pair, "add rule ip strict in iifname fl0 udp dport 5000 accept")
    process = pair.start(pair.flasher_ns, "station", "--plain", "-i", FLASHER_IF, "--tftp-root",
                         str(boot_root), "--journal", str(station.journal), "-m",
                         str(package))
    log = Log(process)
    log.wait_for("listening on interface fl0")  # accepted now: the station runs
    process.send_signal(signal.SIGTERM)
    assert log.finish(30) == 0


@needs_dnsmasq
@pytest.mark.skipif(shutil.which("iptables") is None, reason="iptables is not installed")
def test_an_iptables_policy_drop_is_named(station, boot_root, package):
    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")
    subprocess.run(["ip", "netns", "exec", pair.flasher_ns, "iptables", "-P", "INPUT", "DROP"],
                   check=True)
    subprocess.run(["ip", "netns", "exec", pair.flasher_ns, "iptables", "-A", "INPUT", "-p",
                    "udp", "--dport", "67", "-j", "ACCEPT"], check=True)
    err = preflight_error(station, boot_root, package, "-i", FLASHER_IF)
    assert "drops by default" in err and "UDP port 69 (TFTP)" in err, err


@needs_dnsmasq
def test_by_version_boot_images_and_packages_come_from_the_mirror(station, tmp_path):
    from nitools.netboot.bootimages import extract_file
    from tests.mirror_server import NETINSTALL_EXE, package_bytes

    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")
    server = pair.start(pair.flasher_ns, str(tmp_path / "mirror"), module="tests.mirror_server")
    url = server.stdout.readline().strip()
    root = Path(tempfile.mkdtemp(prefix="nitools-station-boot-"))
    root.chmod(0o755)
    try:
        process = pair.start(pair.flasher_ns, "station", "--plain", "-i", FLASHER_IF,
                             "--routeros", "stable", "--boot-version", "stable", "--mirror",
                             url, "--tftp-root", str(root), "--journal", str(station.journal),
                             "-1", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
        log = Log(process)
        log.wait_for("listening on interface fl0")
        (extraction,) = extract_file(str(NETINSTALL_EXE))
        expected = {i.file_name: bytes(i.data) for i in extraction.images}
        extraction.close()
        assert netboot(pair, BOARD_IF)["tftp"]["sha256"] == sha(expected["netinstall.arm64"])
        station.emulate("--seed", "85")
        assert log.finish() == 0, log.text
        (board,) = station.summaries()
        assert [f["sha256"] for f in board["files"]] == [
            sha(package_bytes("system", "7.16.1", "arm64"))]
        assert "boot images of RouterOS 7.16.1 in" in log.text
    finally:
        shutil.rmtree(root, ignore_errors=True)


@needs_dnsmasq
def test_ctrl_c_to_the_whole_group_lets_the_install_finish_and_dnsmasq_serve(
        station, boot_root, package):
    """The terminal's Ctrl-C (and systemd's SIGTERM) go to the whole process group:
    dnsmasq must not die with it while a board is still being flashed."""
    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(  # its own group, as a shell gives a foreground job
        ["ip", "netns", "exec", pair.flasher_ns, sys.executable, "-m", "nitools", "station",
         "--plain", "-m", "-i", FLASHER_IF, "--tftp-root", str(boot_root), "--journal",
         str(station.journal), "--grace", "60", str(package)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)
    pair.processes.append(process)
    log = Log(process)
    log.wait_for("listening on interface fl0")
    station.emulate("--seed", "82", "--chunk-delay", "25")  # ~100 chunks: a few seconds
    log.wait_for("uploading 10%")
    os.killpg(process.pid, signal.SIGINT)
    log.wait_for("stopping: 1 install finishing, up to 60 s; Ctrl-C again to abort")
    time.sleep(0.5)
    assert dnsmasq_pids(pair), "dnsmasq died with the terminal's Ctrl-C"
    assert log.finish(60) == 0, log.text
    (board,) = station.summaries()
    assert board["installed"]
    assert [row["outcome"] for row in station.rows()] == ["rebooted"]
    assert dnsmasq_pids(pair) == []  # stopped once the install had ended


@needs_dnsmasq
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is missing")
def test_without_its_privileges_the_station_says_so_and_leaves_nothing(station, boot_root,
                                                                        package):
    """As a container or a unit without the network capabilities runs it (this
    machine's Python lives where only root can read it: root, less the capabilities)."""
    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")
    before = set(Path(tempfile.gettempdir()).glob(f"{LEASES_PREFIX}*"))
    result = subprocess.run(
        ["ip", "netns", "exec", pair.flasher_ns, "setpriv",
         "--bounding-set=-net_raw,-net_admin,-net_bind_service", "--inh-caps=-all",
         sys.executable, "-m", "nitools", "station", "--plain", "-i", FLASHER_IF,
         "--tftp-root", str(boot_root), "--journal", str(station.journal), str(package)],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    # Binding to an interface needs CAP_NET_RAW only before Linux 5.7 (issue 29 row 16)
    raw = "CAP_NET_RAW, " if preflight._kernel() < (5, 7) else ""
    assert result.stderr.strip().splitlines()[-1] == (
        f"nitools: error: nitools station needs root, or the capabilities {raw}"
        f"CAP_NET_BIND_SERVICE, CAP_NET_ADMIN (missing: {raw}CAP_NET_BIND_SERVICE, "
        "CAP_NET_ADMIN): run it with sudo, or give the capabilities"), result.stderr
    assert set(Path(tempfile.gettempdir()).glob(f"{LEASES_PREFIX}*")) == before
    assert dnsmasq_pids(pair) == []


def test_flash_checks_its_interface_and_firewall_before_listening(station, package):
    pair = station.pair

    def flash_error(*args: str) -> str:
        process = pair.start(pair.flasher_ns, "flash", "--plain", "-i", FLASHER_IF, "-1",
                             "--journal", str(station.journal), *args, str(package))
        _, err = process.communicate(timeout=30)
        assert process.returncode == 1 and "Traceback" not in err, err
        assert "listening" not in err
        return err.strip().splitlines()[-1]

    subprocess.run(["ip", "-n", pair.flasher_ns, "link", "set", FLASHER_IF, "down"], check=True)
    assert flash_error() == ("nitools: error: interface fl0 is down: bring it up with "
                             "'ip link set fl0 up'")
    subprocess.run(["ip", "-n", pair.flasher_ns, "link", "set", FLASHER_IF, "up"], check=True)
    pair.wait_for_carrier()
    if shutil.which("nft") is not None:
        nft(pair, "add table inet guard",
            "add chain inet guard in { type filter hook input priority 0 ; policy accept ; }",
            "add rule inet guard in iifname fl0 udp dport 5000 drop")
        assert flash_error() == ("nitools: error: nftables inet guard chain in drops UDP port "
                                 "5000 (netinstall): allow UDP 5000 in on fl0")


@needs_dnsmasq
def test_sigterm_to_the_whole_cgroup_still_lets_the_install_finish(station, boot_root,
                                                                   package):
    """systemd's default KillMode=control-group signals dnsmasq with the station: its
    death must not turn the stop into an abort of the install under way."""
    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")
    log = Log(pair.start(pair.flasher_ns, "station", "--plain", "-m", "-i", FLASHER_IF,
                         "--tftp-root", str(boot_root), "--journal", str(station.journal),
                         "--grace", "60", str(package)))
    log.wait_for("listening on interface fl0")
    station.emulate("--seed", "83", "--chunk-delay", "25")
    log.wait_for("uploading 10%")
    log.process.send_signal(signal.SIGTERM)
    for pid in dnsmasq_pids(pair):
        os.kill(pid, signal.SIGTERM)
    assert log.finish(60) == 1, log.text  # dnsmasq died: said, and exit 1
    (board,) = station.summaries()
    assert board["installed"], log.text
    assert [row["outcome"] for row in station.rows()] == ["rebooted"]
    assert "aborting" not in log.text


def bootp_many(pair, macs: list[bytes]) -> dict[str, str | None]:
    result = subprocess.run(
        ["ip", "netns", "exec", pair.board_ns, sys.executable, "-m", "tests.lab.bootp_many",
         BOARD_IF, *(mac.hex() for mac in macs)], capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO)), check=True)
    return json.loads(result.stdout)


@needs_dnsmasq
def test_the_default_range_serves_300_boards_in_one_run(station, boot_root, package):
    """Issue 27 row 2: dnsmasq keeps BOOTP leases for ever, so after 127 boards (the
    default range of a /24) no board got an address. Three waves of 100 distinct boards,
    each asking BOOTP and then installing: every one gets an address, because the leases
    of the boards before them were given back."""
    from nitools.wire.link import local_admin_mac

    pair = station.pair
    address(pair, FLASHER_IF, "192.0.2.1/24")  # default range: 192.0.2.128-254, 127
    log = Log(pair.start(pair.flasher_ns, "station", "--plain", "--count", "300", "--no-mndp",
                         "-i", FLASHER_IF, "--tftp-root", str(boot_root), "--journal",
                         str(station.journal), "-r", str(package)))
    log.wait_for("listening on interface fl0")
    handed_out: list[str] = []
    for wave, seed in enumerate((91, 92, 93), start=1):
        macs = [local_admin_mac(seed * 4096 + index * 16 + 1) for index in range(100)]
        addresses = bootp_many(pair, macs)
        assert None not in addresses.values(), (wave, log.text[-3000:])
        handed_out += addresses.values()
        station.emulate("--seed", str(seed), "--boards", "100", timeout=120)
        deadline = time.monotonic() + 120
        while sum(row["outcome"] == "rebooted" for row in station.rows()) < 100 * wave:
            assert time.monotonic() < deadline and log.process.poll() is None, log.text[-3000:]
            time.sleep(0.2)
    assert log.finish(timeout=60) == 0, log.text[-3000:]
    rows = station.rows()
    assert len({row["answered_mac"] for row in rows}) == 300
    assert [row["outcome"] for row in rows] == ["rebooted"] * 300
    assert len(set(handed_out)) <= 127 < len(handed_out)  # addresses were used again
    assert "address range is full" not in log.text
