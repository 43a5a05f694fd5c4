"""A reason for every board that never showed up: silent boards and their likely causes,
and the station core taking what dnsmasq saw (virtual time)."""


from nitools.netboot.dnsmasq_log import Sighting
from nitools.netinstall import events
from nitools.netinstall.events import FailureCause, NetbootKind
from nitools.station.engine.boot_watch import BootWatch
from nitools.station.engine.settings import EngineSettings
from nitools.wire.runner import run_virtual
from tests.unit.station.engine.test_core import station_and_boards

DHCP, TFTP, TFTP_FAILED, NO_IMAGE = (NetbootKind.DHCP, NetbootKind.TFTP,
                                   NetbootKind.TFTP_FAILED, NetbootKind.NO_IMAGE)

MAC = bytes.fromhex("024e49000001")


def booted(watch, mac=MAC, at=0.0):
    watch.sighting(Sighting(DHCP, mac, at, "vendor class ARM64__boot, address 192.0.2.9"), at)
    return watch.sighting(Sighting(TFTP, mac, at + 0.3, "netinstall.arm64"), at + 0.3)


def test_a_board_that_loaded_its_image_and_never_announced_is_silent_with_causes():
    watch = BootWatch(announce_timeout=8.0)
    (event,) = booted(watch)
    assert isinstance(event, events.Netboot) and event.kind == TFTP
    assert watch.next_deadline() == 8.3 and watch.poll(8.2) == []
    (silent,) = watch.poll(8.3)
    assert silent.cause is FailureCause.NEVER_ANNOUNCED
    assert silent.reason.startswith("got boot image netinstall.arm64 but never announced "
                                    "itself in netinstall within 8 s; likely: (1) the boot "
                                    "image netinstall.arm64 is for another architecture")
    assert "(it asked as ARM64__boot)" in silent.reason
    assert "(2) the board's netinstall port" in silent.reason
    assert "(3) something between them drops broadcasts" in silent.reason


def test_a_board_that_announces_itself_is_not_silent():
    watch = BootWatch(8.0)
    booted(watch)
    watch.announced(MAC)
    assert watch.poll(100.0) == [] and watch.next_deadline() is None


def test_a_failed_transfer_says_so_unless_a_later_one_worked():
    watch = BootWatch(8.0)
    watch.sighting(Sighting(TFTP_FAILED, MAC, 0.0, "netinstall.arm64 not found in the TFTP "
                                                   "root"), 0.0)
    (silent,) = watch.poll(8.0)
    assert silent.cause is FailureCause.BOOT_IMAGE_FAILED
    assert silent.reason.startswith("boot image transfer failed (netinstall.arm64 not found")
    watch.sighting(Sighting(TFTP_FAILED, MAC, 10.0, "cut off"), 10.0)
    booted(watch, at=11.0)
    (silent,) = watch.poll(20.0)
    assert silent.cause is FailureCause.NEVER_ANNOUNCED


def test_an_unserved_vendor_class_is_said_once_per_mac():
    watch = BootWatch(8.0)
    seen = Sighting(NO_IMAGE, MAC, 0.0, "vendor class PPC_boot has no boot image here")
    assert len(watch.sighting(seen, 0.0)) == 1
    assert watch.sighting(seen, 1.0) == [] and watch.poll(100.0) == []


def test_the_core_takes_sightings_and_a_board_that_then_installs_is_not_silent():
    config = EngineSettings(announce_timeout=5.0)
    clock, network, core, (device,), runners, seen = station_and_boards(config)
    core.netboot(Sighting(DHCP, device.mac, 0.0, "vendor class ARM64__boot"), clock.now)
    core.netboot(Sighting(TFTP, device.mac, 0.1, "netinstall.arm64"), clock.now)
    stranger = bytes.fromhex("024e490000ff")
    core.netboot(Sighting(TFTP, stranger, 0.1, "netinstall.arm64"), clock.now)
    run_virtual(runners, clock, network, until=lambda: core.result.silent == 1, limit=60)
    run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 1, limit=60)
    silent = [e for e in seen if isinstance(e, events.Silent)]
    assert [e.mac for e in silent] == [stranger] and core.result.silent == 1
    kinds = [e.kind for e in seen if isinstance(e, events.Netboot) and e.mac == device.mac]
    assert kinds == [DHCP, TFTP]


def test_dnsmasq_lines_read_after_the_board_announced_itself_do_not_make_it_silent():
    config = EngineSettings(announce_timeout=5.0)
    clock, network, core, (device,), runners, seen = station_and_boards(config)
    run_virtual(runners, clock, network, until=lambda: bool(core.boards), limit=10)
    # dnsmasq's log is read in another thread: its TFTP line arrives after the DSCV.
    core.netboot(Sighting(TFTP, device.mac, 0.0, "netinstall.arm64"), clock.now)
    run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 1, limit=60)
    clock.now += 10.0
    core.poll(clock.now)
    assert core.result.silent == 0
    assert not [e for e in seen + core.take_events() if isinstance(e, events.Silent)]
