"""`nitools flash` serves no BOOTP (issue 29 row 2): over a real veth pair, a boot loader's
BOOTP request on the flashing port is told about once per MAC, with what to do, and the
watch takes no port: `nitools dnsmasq --run` started beside flash answers the board."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from nitools.wire.bootp_watch import ADVICE
from tests.lab.netns import BOARD_IF, FLASHER_IF, REPO
from tests.lab.test_station_cmd_lab import Log

pytestmark = pytest.mark.lab
DNSMASQ = shutil.which("dnsmasq", path=os.pathsep.join([os.environ.get("PATH", ""),
                                                         "/usr/sbin", "/sbin"]))


def ask(pair, timeout: float = 1.0) -> dict:
    done = subprocess.run(["ip", "netns", "exec", pair.board_ns, sys.executable, "-m",
                           "tests.lab.netboot_client", BOARD_IF, "bootp", "ARM64__boot",
                           "--timeout", str(timeout)], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(DNSMASQ is None, reason="dnsmasq is not installed (Debian: apt-get "
                    "install dnsmasq-base)")
def test_flash_tells_a_board_asking_for_bootp_what_to_do(netns_pair, package, boot_root):
    pair = netns_pair
    subprocess.run(["ip", "-n", pair.flasher_ns, "addr", "add", "192.0.2.1/24", "dev",
                    FLASHER_IF], check=True)
    flash = Log(pair.start(pair.flasher_ns, "flash", "--plain", "-m", "-i", FLASHER_IF,
                           "-r", str(package)))
    flash.wait_for("listening on interface fl0")
    for _ in range(3):  # RouterBOOT asks again every few seconds
        assert ask(pair)["reply"] is None  # nobody answers it
    flash.wait_for(ADVICE)
    dnsmasq = Log(pair.start(pair.flasher_ns, "dnsmasq", "-i", FLASHER_IF, "--tftp-root",
                             str(boot_root), "--run", stdout=subprocess.DEVNULL))
    dnsmasq.wait_for("TFTP root is")  # UDP 67 was free: the watch took no port
    deadline = time.monotonic() + 10
    while (reply := ask(pair, 2.0)["reply"]) is None and time.monotonic() < deadline:
        pass
    assert reply is not None and reply["file"] == "netinstall.arm64"
    flash.process.terminate()
    flash.finish()
    told = [line for line in flash.lines if ADVICE in line]
    assert len(told) == 1 and "as ARM64__boot" in told[0], flash.text[-2000:]


def test_without_i_the_one_port_that_can_be_the_flashing_port_is_taken_and_said(
        netns_pair, package):
    """Issue 29 row 15: -i silently meant eth0 (a PC's uplink). In the flasher's
    namespace fl0 is the one Ethernet interface up and not the default route's."""
    pair = netns_pair
    flash = Log(pair.start(pair.flasher_ns, "flash", "--plain", "-m", "-r", str(package)))
    flash.wait_for("no -i given: flashing on fl0, the one Ethernet interface that is up "
                   "and not the default route's")
    flash.wait_for("listening on interface fl0")
    flash.process.terminate()
    flash.finish()
    subprocess.run(["ip", "-n", pair.flasher_ns, "link", "add", "fl1", "type", "veth",
                    "peer", "name", "fl2"], check=True)
    subprocess.run(["ip", "-n", pair.flasher_ns, "link", "set", "fl1", "up"], check=True)
    subprocess.run(["ip", "-n", pair.flasher_ns, "link", "set", "fl2", "up"], check=True)
    several = pair.start(pair.flasher_ns, "flash", "--plain", "-m", "-r", str(package))
    _, errors = several.communicate(timeout=30)
    assert several.returncode == 2
    assert "no -i given, and fl0, fl1, fl2 could each be the flashing port: name it with -i" \
        in errors
