"""The rendered config in the real dnsmasq, with a RouterBOOT-like client in a second
namespace: every vendor class gets its boot file over BOOTP and DHCP, and the TFTP
download is byte-identical; other clients get nothing."""

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

from nitools.routeros.archs import BOOT_IMAGES
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO, NamespacesUnavailable, NetnsPair

pytestmark = pytest.mark.lab
SERVER_IP = "192.0.2.1"
DNSMASQ = shutil.which("dnsmasq", path=os.pathsep.join([os.environ.get("PATH", ""),
                                                         "/usr/sbin", "/sbin"]))
CASES = [(image, vc) for image in BOOT_IMAGES for vc in image.vendor_classes]


class Server:
    def __init__(self, pair: NetnsPair, root: Path, process: subprocess.Popen) -> None:
        self.pair, self.root, self.process = pair, root, process
        self.log: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.rstrip())
            if "TFTP root is" in line:
                self.ready.set()

    def client(self, *args: str, timeout: float = 30) -> dict:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        result = subprocess.run(
            ["ip", "netns", "exec", self.pair.board_ns, sys.executable, "-m",
             "tests.lab.netboot_client", BOARD_IF, *args], capture_output=True, text=True,
            timeout=timeout, env=env, check=True)
        return json.loads(result.stdout)


@pytest.fixture(scope="module")
def server():
    if DNSMASQ is None:
        pytest.skip("dnsmasq is not installed (Debian: apt-get install dnsmasq-base)")
    try:
        pair = NetnsPair.create()
    except NamespacesUnavailable as exc:
        pytest.skip(str(exc))
    root = Path(tempfile.mkdtemp(prefix="nitools-tftp-"))
    try:
        subprocess.run(["ip", "-n", pair.flasher_ns, "addr", "add", f"{SERVER_IP}/24", "dev",
                        FLASHER_IF], check=True)
        os.chmod(root, 0o755)  # dnsmasq reads as an unprivileged user
        for index, image in enumerate(BOOT_IMAGES):
            size = 700_000 if image.name == "arm64" else 20_000 + index
            path = root / image.boot_file
            path.write_bytes(os.urandom(size))
            path.chmod(0o644)
        process = pair.start(pair.flasher_ns, "dnsmasq", "-i", FLASHER_IF, "--tftp-root",
                             str(root), "--lease-file", str(root.parent / f"{root.name}.leases"),
                             "--run", "-v", stdout=subprocess.DEVNULL)
        running = Server(pair, root, process)
        if not running.ready.wait(15):
            pytest.fail("dnsmasq did not start:\n" + "\n".join(running.log))
        yield running
    finally:
        pair.destroy()  # SIGTERM to nitools by PID; it stops dnsmasq; then the namespaces go
        shutil.rmtree(root, ignore_errors=True)
        Path(str(root) + ".leases").unlink(missing_ok=True)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def client_arch(vendor_class: str) -> list[str]:
    return ["--client-arch", "7"] if vendor_class == "PXEClient" else []


@pytest.mark.parametrize(("image", "vendor_class"), CASES, ids=[vc for _, vc in CASES])
def test_bootp_gives_the_boot_file_and_tftp_is_byte_identical(server, image, vendor_class):
    result = server.client("bootp", vendor_class, "--tftp", image.boot_file, "--blksize",
                           "1452", *client_arch(vendor_class))
    reply = result["reply"]
    assert reply is not None, "\n".join(server.log[-20:])
    assert reply["file"] == image.boot_file
    assert reply["siaddr"] == SERVER_IP
    assert reply["message_type"] is None  # a BOOTP reply, not a DHCPOFFER
    tftp = result["tftp"]
    assert tftp["sha256"] == sha(server.root / image.boot_file)
    # The client asked for 1452-byte blocks; tftp-no-blocksize makes the server ignore
    # that, and the client falls back to 512-byte blocks.
    assert (tftp["oack"], tftp["block_size"]) == (False, 512)
    assert tftp["blocks"] == tftp["size"] // 512 + 1


@pytest.mark.parametrize(("image", "vendor_class"), CASES, ids=[vc for _, vc in CASES])
def test_dhcp_exchange_gives_the_boot_file(server, image, vendor_class):
    result = server.client("dhcp", vendor_class, *client_arch(vendor_class))
    assert result["offer"]["message_type"] == 2 and result["reply"]["message_type"] == 5
    for message in (result["offer"], result["reply"]):
        assert message["file"] == image.boot_file
        assert message["siaddr"] == SERVER_IP


@pytest.mark.parametrize("vendor_class", ["", "udhcp 1.35.0", "MSFT 5.0", "mips_boot"])
def test_clients_without_a_routerboot_vendor_class_get_no_answer(server, vendor_class):
    for mode in ("bootp", "dhcp"):
        result = server.client(mode, vendor_class, "--timeout", "1.0")
        assert result["reply"] is None


def test_legacy_pxe_client_gets_no_uefi_image(server):
    result = server.client("bootp", "PXEClient:Arch:00000:UNDI:002001")
    assert result["reply"] is not None and result["reply"]["file"] == ""


def test_tftp_refuses_paths_outside_the_root(server):
    result = server.client("bootp", "ARM64__boot", "--tftp", "../../etc/passwd")
    assert "error" in result["tftp"]


def test_dnsmasq_log_is_relayed(server):
    server.client("bootp", "MMipsBoot", "--tftp", "netinstall.mmips")
    time.sleep(0.2)
    assert any("vendor class: MMipsBoot" in line for line in server.log)
    assert any("sent" in line and "netinstall.mmips" in line for line in server.log)


def test_a_second_dhcp_server_is_refused_with_a_clear_message(server):
    second = server.pair.start(server.pair.flasher_ns, "dnsmasq", "-i", FLASHER_IF,
                               "--tftp-root", str(server.root), "--run",
                               stdout=subprocess.DEVNULL)
    _, errors = second.communicate(timeout=20)
    assert second.returncode == 1
    assert "another DHCP server already listens on UDP port 67" in errors
    assert re.search(r"\(dnsmasq \(pid \d+\)\)", errors), errors  # which one
    assert "Traceback" not in errors


def test_interface_without_ipv4_is_refused_before_starting(server):
    result = subprocess.run(
        ["ip", "netns", "exec", server.pair.board_ns, sys.executable, "-m", "nitools",
         "dnsmasq", "-i", BOARD_IF, "--tftp-root", str(server.root)],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=20,
        check=False)
    assert result.returncode == 1
    assert f"interface {BOARD_IF} has no IPv4 address" in result.stderr


def test_zz_sigterm_stops_dnsmasq_cleanly(server):
    # Runs last in this module: it stops the shared server.
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(15) == 0
    pids = subprocess.run(["ip", "netns", "pids", server.pair.flasher_ns], capture_output=True,
                          text=True, check=True).stdout.split()
    assert pids == []  # dnsmasq went with it
    assert any("dnsmasq stopped" in line for line in server.log)


def test_run_keeps_the_leases_of_this_run_only(netns_pair, boot_root):
    """Issue 29 row 20: `nitools dnsmasq --run` kept BOOTP leases for ever in /var/lib/misc
    across runs (the station uses a file of its run for exactly this reason)."""
    if DNSMASQ is None:
        pytest.skip("dnsmasq is not installed (Debian: apt-get install dnsmasq-base)")
    pair = netns_pair
    system_file = Path(f"/var/lib/misc/nitools-dnsmasq-{FLASHER_IF}.leases")
    existed = system_file.exists() and system_file.stat().st_mtime
    subprocess.run(["ip", "-n", pair.flasher_ns, "addr", "add", f"{SERVER_IP}/24", "dev",
                    FLASHER_IF], check=True)
    process = pair.start(pair.flasher_ns, "dnsmasq", "-i", FLASHER_IF, "--tftp-root",
                         str(boot_root), "--run", "-v", stdout=subprocess.DEVNULL)
    running = Server(pair, boot_root, process)
    assert running.ready.wait(15), "\n".join(running.log)
    said = next(line for line in running.log if "leases of this run only, in " in line)
    lease_file = Path(said.split("leases of this run only, in ", 1)[1].split(" ", 1)[0])
    assert lease_file.parent.name.startswith("nitools-leases-")  # its run's own folder
    assert running.client("bootp", "ARM64__boot")["reply"] is not None
    deadline = time.monotonic() + 5
    while not (lease_file.exists() and lease_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lease_file.read_text(), "the run's lease file got the board's lease"
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0
    assert not lease_file.parent.exists()  # gone with the run: the next starts with none
    assert (system_file.exists() and system_file.stat().st_mtime) == existed
