"""Reading dnsmasq's log per board: lines as dnsmasq 2.90 writes them with --log-dhcp
(captured from the real dnsmasq in the lab), the MAC found from the TFTP address."""

from nitools.netboot.dnsmasq_log import DnsmasqLogReader
from nitools.netinstall.events import NetbootKind

DHCP, TFTP, TFTP_FAILED, NO_IMAGE = (NetbootKind.DHCP, NetbootKind.TFTP,
                                   NetbootKind.TFTP_FAILED, NetbootKind.NO_IMAGE)

MAC = bytes.fromhex("024e49051001")
SERVED = ("ARM64__boot", "Mips_boot")
BOOT = """\
dnsmasq-dhcp[5316]: 2104718558 available DHCP range: 192.0.2.128 -- 192.0.2.254
dnsmasq-dhcp[5316]: 2104718558 vendor class: ARM64__boot
dnsmasq-dhcp[5316]: 2104718558 tags: bootp, nt_arm64, netboot, fl0
dnsmasq-dhcp[5316]: 2104718558 BOOTP(fl0) 192.0.2.213 02:4e:49:05:10:01
dnsmasq-dhcp[5316]: 2104718558 bootfile name: netinstall.arm64
dnsmasq-dhcp[5316]: 2104718558 next server: 192.0.2.1
dnsmasq-dhcp[5316]: 2104718558 broadcast response
dnsmasq-dhcp[5316]: 2104718558 sent size:  4 option:  1 netmask  255.255.255.0
dnsmasq-tftp[5316]: sent /tmp/nitools-station-tftp-enftwh7y/netinstall.arm64 to 192.0.2.213
"""


def read(text, reader=None):
    reader = reader or DnsmasqLogReader(SERVED)
    return [s for number, line in enumerate(text.splitlines())
            for s in reader.feed(line, float(number))]


def test_a_board_asking_and_loading_its_image():
    dhcp, tftp = read(BOOT)
    assert (dhcp.kind, dhcp.mac, dhcp.at) == (DHCP, MAC, 3.0)
    assert dhcp.detail == "vendor class ARM64__boot, address 192.0.2.213"
    assert (tftp.kind, tftp.mac, tftp.detail) == (TFTP, MAC, "netinstall.arm64")


def test_failed_transfers_are_told_by_the_address_the_board_got():
    reader = DnsmasqLogReader(SERVED)
    read(BOOT, reader)
    failed = read("dnsmasq-tftp[5316]: file /srv/tftp/netinstall.arm64 not found for "
                  "192.0.2.213\n"
                  "dnsmasq-tftp[5316]: failed sending /srv/tftp/netinstall.arm64 to "
                  "192.0.2.213\n"
                  "dnsmasq-tftp[5316]: error 0 Early terminate received from 192.0.2.213\n",
                  reader)
    assert [(s.kind, s.mac) for s in failed] == [(TFTP_FAILED, MAC)] * 3
    assert failed[0].detail == "netinstall.arm64 not found in the TFTP root"


def test_a_vendor_class_without_an_image_names_the_ones_served():
    (seen,) = read("dnsmasq-dhcp[1]: 77 vendor class: PPC_boot\n"
                   "dnsmasq-dhcp[1]: 77 tags: bootp, fl0\n"
                   "dnsmasq-dhcp[1]: 77 BOOTP(fl0) 02:4e:49:05:10:02 ignored\n")
    assert seen.kind == NO_IMAGE and seen.mac == bytes.fromhex("024e49051002")
    assert seen.detail == ("vendor class PPC_boot has no boot image here (served: "
                           "ARM64__boot, Mips_boot)")


def test_other_lines_and_strangers_say_nothing():
    assert read("dnsmasq: started, version 2.90 DNS disabled\n"
                "dnsmasq-dhcp[1]: 9 BOOTP(fl0) 02:4e:49:05:10:03 ignored\n"  # no vendor class
                "dnsmasq-tftp[1]: sent /srv/x to 192.0.2.99\n"  # an address no board got here
                "garbage\n") == []


def test_a_stranger_asking_for_files_in_a_boards_name_says_nothing_about_it():
    """Issue 27 row 6: a TFTP request from 192.0.2.50 for 'x not found for 192.0.2.213'
    gave the board leased 192.0.2.213 a tftp-failed step, then a silent row."""
    reader = DnsmasqLogReader(SERVED)
    read(BOOT, reader)
    assert read("dnsmasq-tftp[5316]: file /srv/tftp/x not found for 192.0.2.213 not found "
                "for 192.0.2.50\n"  # the name, with spaces, as dnsmasq writes it
                "dnsmasq-tftp[5316]: file /srv/tftp/netinstall.mmips not found for "
                "192.0.2.213\n"  # a name it was never offered, from its address
                "dnsmasq-tftp[5316]: sent /srv/tftp/other.bin to 192.0.2.213\n"
                "dnsmasq-tftp[5316]: failed sending /srv/tftp/x to 192.0.2.213 to "
                "192.0.2.50\n", reader) == []


def test_a_path_with_spaces_is_read_whole_and_the_address_is_the_last_one():
    reader = DnsmasqLogReader(SERVED)
    read(BOOT, reader)
    (failed,) = read("dnsmasq-tftp[5316]: file /srv/boot images/netinstall.arm64 not found "
                     "for 192.0.2.213\n", reader)
    assert failed.mac == MAC and failed.detail == "netinstall.arm64 not found in the TFTP root"


def test_a_board_that_finds_the_range_full_is_told_and_the_address_is_kept():
    reader = DnsmasqLogReader(SERVED)
    dhcp, _ = read(BOOT, reader)
    assert dhcp.address == "192.0.2.213" and dhcp.port == "fl0"
    (full,) = read("dnsmasq-dhcp[5316]: 1004 vendor class: ARM64__boot\n"
                   "dnsmasq-dhcp[5316]: 1004 BOOTP(fl0) 02:aa:00:00:00:04 no address "
                   "available\n", reader)
    assert (full.kind, full.mac, full.port) == (NetbootKind.NO_ADDRESS,
                                                bytes.fromhex("02aa00000004"), "fl0")


def test_an_ordinary_dhcp_request_is_a_dhcp_client_sighting_a_bare_bootp_nothing():
    """RouterOS up after its reboot asks on ether1 with a DHCPDISCOVER (dnsmasq ignores
    it: no boot vendor class); the boot loader's BOOTP without a vendor class is nothing."""
    lines = """\
dnsmasq-dhcp[5316]: 201448203 available DHCP range: 192.0.2.128 -- 192.0.2.254
dnsmasq-dhcp[5316]: 201448203 DHCPDISCOVER(fl0) 02:4e:49:05:10:01 ignored
dnsmasq-dhcp[5316]: 77 client provides name: line 1
dnsmasq-dhcp[5316]: 77 DHCPREQUEST(fl0) 192.0.2.9 02:4e:49:05:10:01 ignored
dnsmasq-dhcp[5316]: 78 BOOTP(fl0) 02:4e:49:05:10:01 ignored
"""
    first, second = read(lines)
    assert (first.kind, first.mac, first.detail, first.port) == (
        NetbootKind.DHCP_CLIENT, MAC, "no host name logged", "fl0")
    assert (second.kind, second.detail) == (NetbootKind.DHCP_CLIENT, "host name 'line 1'")
