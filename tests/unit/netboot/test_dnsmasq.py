"""Rendering, preflight checks and injection refusal, without root."""

import ipaddress
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from nitools.errors import UsageError
from nitools.netboot.dnsmasq import (
    DnsmasqError,
    InterfaceAddress,
    interface_address,
    plan_netboot,
    render,
    syntax_check,
)
from nitools.routeros.archs import BOOT_IMAGES
from tests.helpers import run_cli

IFACE = InterfaceAddress("eth9", ipaddress.IPv4Address("192.0.2.1"),
                         ipaddress.IPv4Network("192.0.2.0/24"))
HAVE_DNSMASQ = shutil.which("dnsmasq", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


@pytest.fixture
def root():
    # Not under pytest's tmp_path: its folders are 0700, which dnsmasq (running as an
    # unprivileged user) cannot traverse, and which the preflight rightly refuses.
    folder = Path(tempfile.mkdtemp(prefix="nitools-tftp-"))
    folder.chmod(0o755)
    for image in BOOT_IMAGES:
        path = folder / image.boot_file
        path.write_bytes(b"image")
        path.chmod(0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def plan(root, **kwargs):
    return plan_netboot("eth9", str(root), address=IFACE, **kwargs)


def config_lines(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_rendered_config_has_the_verified_shape(root):
    lines = config_lines(render(plan(root)))
    for expected in ("port=0", "interface=eth9", "bind-interfaces", "no-hosts", "no-resolv",
                     "dhcp-range=192.0.2.128,192.0.2.254,255.255.255.0,1h", "bootp-dynamic",
                     "dhcp-authoritative", "dhcp-no-override", "no-ping",
                     "dhcp-broadcast=tag:bootp", "dhcp-ignore=tag:!netboot", "enable-tftp",
                     f"tftp-root={root}", "tftp-no-blocksize", "log-dhcp"):
        assert expected in lines
    assert not any("vendor:" in line for line in lines)  # the common, wrong form
    assert any(line.startswith("dhcp-leasefile=") for line in lines)
    for image in BOOT_IMAGES:
        for vendor_class in image.vendor_classes:
            assert f"dhcp-vendorclass=set:netboot,{vendor_class}" in lines
        assert any(line.startswith("dhcp-boot=tag:") and line.endswith(image.boot_file)
                   for line in lines)


def test_every_option_line_has_a_comment_saying_why(root):
    text = render(plan(root))
    previous = ""
    for line in text.splitlines():
        if line and not line.startswith("#") and not previous:
            pytest.fail(f"no comment before the block starting with: {line}")
        previous = line


@pytest.mark.skipif(not HAVE_DNSMASQ, reason="dnsmasq not installed (apt-get install dnsmasq-base)")
@pytest.mark.parametrize("kwargs", [
    {}, {"archs": ("arm64",)}, {"archs": ("mipsbe", "x86")}, {"server_ip": "192.0.2.7"},
    {"range_spec": "192.0.2.10,192.0.2.20", "lease_time": "infinite"},
    {"lease_time": "45m", "lease_file": "/tmp/x.leases"},
])
def test_dnsmasq_itself_accepts_every_rendered_config(root, kwargs):
    syntax_check(render(plan(root, **kwargs)))


def test_explicit_next_server(root):
    lines = config_lines(render(plan(root, server_ip="192.0.2.7", archs=("arm64",))))
    assert "dhcp-boot=tag:nt_arm64,netinstall.arm64,,192.0.2.7" in lines


def test_x86_image_goes_only_to_uefi_pxe_clients(root):
    lines = config_lines(render(plan(root, archs=("x86",))))
    assert "dhcp-match=set:uefi64,option:client-arch,7" in lines
    assert "dhcp-boot=tag:nt_x86,tag:uefi64,netinstall.x86" in lines


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"interface": "eth0\nport=53"}, "not a valid interface name"),
    ({"interface": "eth0,x"}, "not a valid interface name"),
    ({"tftp_root": "/tmp/x\nuser=root"}, "cannot go into a dnsmasq config"),
    ({"tftp_root": "/tmp/with space"}, "cannot go into a dnsmasq config"),
    ({"range_spec": "192.0.2.10,192.0.2.20\ndhcp-boot=evil"}, "not an IPv4 address"),
    ({"range_spec": "192.0.2.10"}, "START,END"),
    ({"lease_time": "1h\nport=53"}, "not a dnsmasq lease time"),
    ({"lease_time": "soon"}, "not a dnsmasq lease time"),
    ({"server_ip": "192.0.2.1\nx"}, "not an IPv4 address"),
    ({"archs": ("arm64\nport=53",)}, "unknown architecture"),
    ({"lease_file": "/tmp/l,eases"}, "cannot go into a dnsmasq config"),
])
def test_injection_attempts_are_refused_before_rendering(root, kwargs, fragment):
    arguments = {"interface": "eth9", "tftp_root": str(root), "address": IFACE} | kwargs
    with pytest.raises(UsageError, match=fragment):
        plan_netboot(**arguments)


@pytest.mark.parametrize(("spec", "fragment"), [
    ("10.0.0.1,10.0.0.9", "outside eth9's subnet"),
    ("192.0.2.20,192.0.2.10", "after its end"),
    ("192.0.2.0,192.0.2.10", "network address"),
    ("192.0.2.1,192.0.2.10", "own address"),
])
def test_range_must_sit_inside_the_subnet(root, spec, fragment):
    with pytest.raises(UsageError, match=fragment):
        plan(root, range_spec=spec)


def test_default_range_avoids_the_server_address(root):
    high = InterfaceAddress("eth9", ipaddress.IPv4Address("192.0.2.200"), IFACE.network)
    result = plan_netboot("eth9", str(root), address=high)
    assert not result.range_start <= high.address <= result.range_end
    tiny = InterfaceAddress("eth9", ipaddress.IPv4Address("192.0.2.1"),
                            ipaddress.IPv4Network("192.0.2.0/30"))
    with pytest.raises(UsageError, match="too small"):
        plan_netboot("eth9", str(root), address=tiny)


def test_architectures_default_to_the_manifest_then_file_names(root):
    assert {i.name for i in plan(root).images} == {i.name for i in BOOT_IMAGES}
    (root / "bootimages.json").write_text(json.dumps(
        {"images": [{"arch": "arm64"}, {"arch": "mmips"}, {"arch": None}]}))
    assert [i.name for i in plan(root).images] == ["arm64", "mmips"]


def test_missing_requested_boot_file_is_a_warning(root):
    (root / "netinstall.tile").unlink()
    result = plan(root, archs=("tile", "arm"))
    assert len(result.warnings) == 1 and "netinstall.tile is missing" in result.warnings[0]


def test_empty_tftp_root_and_missing_root(root, tmp_path):
    for image in root.iterdir():
        image.unlink()
    with pytest.raises(DnsmasqError, match="no boot images"):
        plan(root)
    with pytest.raises(DnsmasqError, match="does not exist"):
        plan_netboot("eth9", str(tmp_path / "nope"), address=IFACE)


def test_files_and_folders_dnsmasq_cannot_read_are_refused(root):
    (root / "netinstall.arm64").chmod(0o600)
    with pytest.raises(DnsmasqError, match="not world-readable"):
        plan(root)
    (root / "netinstall.arm64").chmod(0o644)
    root.chmod(0o700)
    with pytest.raises(DnsmasqError, match="not traversable"):
        plan(root)


def test_missing_interface_is_reported():
    with pytest.raises(DnsmasqError, match="no interface 'nitoolsnone0'"):
        interface_address("nitoolsnone0")


def test_routeros_format(root):
    text = render(plan(root, archs=("arm64", "mipsbe")), "routeros")
    assert "/ip dhcp-server matcher" in text
    assert 'code=60 value="ARM64__boot" address-pool=netinstall-arm64' in text
    assert "add address=192.0.2.240/28 boot-file-name=netinstall.arm64 next-server=192.0.2.1" \
        in text
    assert f"real-filename={root}/netinstall.mipsbe" in text
    assert "bootp-support=dynamic" in text and "address-pool=static-only" in text


def test_cli_writes_the_config_file(root, tmp_path):
    out = tmp_path / "netboot.conf"
    result = run_cli("dnsmasq", "-i", "lo", "--tftp-root", str(root), "--arch", "arm64",
                     "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "dhcp-boot=tag:nt_arm64,netinstall.arm64" in out.read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o644"


def test_cli_bad_input_is_one_line(root):
    result = run_cli("dnsmasq", "-i", "lo", "--tftp-root", str(root), "--lease-time", "x")
    assert result.returncode == 2
    assert "not a dnsmasq lease time" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("dnsmasq", "-i", "lo", "--tftp-root", str(root), "--run", "--format",
                     "routeros")
    assert result.returncode == 2


def test_templates_ship_inside_the_package():
    import nitools.netboot

    folder = Path(nitools.netboot.__file__).parent / "templates" / "dnsmasq"
    assert {p.name for p in folder.iterdir()} >= {"dnsmasq.conf.j2", "routeros.rsc.j2"}


@pytest.mark.parametrize(("lines", "fragment"), [
    (["dnsmasq: unknown interface eth9"], "interface eth9 is missing or has no IPv4"),
    (["dnsmasq: TFTP directory /srv/tftp inaccessible: Permission denied",
      "dnsmasq: FAILED to start up"], "cannot open the TFTP root"),
    (["dnsmasq: failed to bind DHCP server socket: Address already in use"],
     "another DHCP server already listens"),
    (["dnsmasq: something new went wrong"], "dnsmasq failed to start: dnsmasq: something new"),
])
def test_dnsmasq_start_up_failures_are_translated(root, lines, fragment):
    from nitools.netboot.dnsmasq import translate_failure

    assert fragment in translate_failure(lines, plan(root))


def test_templates_are_inside_the_built_wheel(tmp_path):
    import subprocess
    import sys
    import zipfile

    from tests.helpers import REPO

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, capture_output=True,
                   timeout=300)
    (wheel,) = tmp_path.glob("nitools-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "nitools/netboot/templates/dnsmasq/dnsmasq.conf.j2" in names
    assert "nitools/netboot/templates/dnsmasq/routeros.rsc.j2" in names


def test_range_on_the_broadcast_address_says_so_and_paths_with_newlines_are_refused():
    import ipaddress

    from nitools.errors import UsageError
    from nitools.netboot.dnsmasq import InterfaceAddress, _range, check_path

    iface = InterfaceAddress("eth1", ipaddress.IPv4Address("192.0.2.1"),
                             ipaddress.IPv4Network("192.0.2.0/24"))
    with pytest.raises(UsageError, match="broadcast address"):
        _range("192.0.2.10,192.0.2.255", iface)
    with pytest.raises(UsageError, match="cannot go into a dnsmasq config"):
        check_path("/srv/tftp\n", "TFTP root")


def test_a_file_as_tftp_root_is_named_as_such(tmp_path):
    import ipaddress

    from nitools.errors import UsageError
    from nitools.netboot.dnsmasq import InterfaceAddress, plan_netboot
    file = tmp_path / "not-a-folder"
    file.write_text("x")
    iface = InterfaceAddress("eth1", ipaddress.IPv4Address("192.0.2.1"),
                             ipaddress.IPv4Network("192.0.2.0/24"))
    with pytest.raises(UsageError, match="is a file, not a folder"):
        plan_netboot("eth1", str(file), lease_file=str(tmp_path / "l"), address=iface)


@pytest.mark.parametrize(("address", "fragment"), [
    ("10.0.0.5", "-a address 10.0.0.5 is outside eth9's subnet"),
    ("192.0.2.1", "-a 192.0.2.1 is eth9's own address: give the board another one"),
])
def test_an_a_address_is_named_as_the_a_its_user_gave(root, address, fragment):
    """Issue 29 row 17: netinstall-cli's -a outside the subnet was reported as a --range
    address."""
    with pytest.raises(UsageError, match=fragment):
        plan(root, range_spec=f"{address},{address}", range_option="-a")


def test_the_routeros_example_runs_as_printed_for_a_router_not_this_machine(tmp_path):
    """Issue 29 row 12: `--format routeros -i bridge1` needed a local interface named
    like the router's; the router's interface, address and folder are options now."""
    import re
    import subprocess
    import sys

    from tests.helpers import REPO

    page = (REPO / "docs" / "dnsmasq.md").read_text()
    command = re.search(r"^(nitools dnsmasq -i bridge1 .*--format routeros.*)$", page,
                        re.M)[1]
    done = subprocess.run(command.replace("nitools", f"{sys.executable} -m nitools", 1),
                          shell=True, cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "add name=netinstall interface=bridge1 " in done.stdout
    assert "real-filename=/netinstall/netinstall.arm64" in done.stdout
    assert "next-server=192.168.88.1" in done.stdout
    assert done.stdout.count("add name=netinstall-") >= 9  # every boot image, one pool each
    missing = subprocess.run([sys.executable, "-m", "nitools", "dnsmasq", "-i", "bridge9",
                              "--format", "routeros"], capture_output=True, text=True,
                             env={"PYTHONPATH": str(REPO)}, timeout=60)
    assert missing.returncode == 2 and "give its address there with --router-address" in \
        missing.stderr
