"""Proof in service, in virtual time: verified, wrong-version, unverified, not seen; and
the station core waiting for it with --verify."""


import pytest

from nitools.netinstall import events
from nitools.netinstall.events import Outcome
from nitools.netinstall.mndp import Neighbour
from nitools.routeros.identity import scripted_identity
from nitools.station.engine.service import MAX_AWAITED, ServiceCheck
from nitools.station.engine.settings import EngineSettings
from nitools.wire.runner import run_virtual
from tests.unit.station.engine.test_core import station_and_boards

MAC, OTHER_PORT = bytes.fromhex("024e49000001"), bytes.fromhex("024e49000002")


def awaiting(required=False, identity=None, timeout=300.0):
    check = ServiceCheck(timeout, required)
    check.expect(MAC, (MAC, OTHER_PORT), "ABCD-EFGH", "7.16.1", identity, now=10.0,
                 rebooted_at=7.5)
    return check


def test_the_version_installed_is_verified_with_the_time_from_the_reboot():
    check = awaiting()
    (event,) = check.heard(Neighbour(mac=MAC, version="7.16.1 (stable)", identity="MikroTik",
                                     board="RB5009UG+S+", uptime=12), now=40.0)
    assert event.outcome is Outcome.VERIFIED and event.seconds == pytest.approx(32.5)
    assert event.reason.endswith("announced 32.5 s after the TERM")  # the term-sent step
    assert (event.version, event.board, event.uptime) == ("7.16.1 (stable)", "RB5009UG+S+", 12)
    assert len(check) == 0 and check.poll(1000.0) == []


def test_another_version_is_wrong_version():
    (event,) = awaiting().heard(Neighbour(mac=MAC, version="7.15.3 (long-term)", uptime=1),
                                now=40.0)
    assert event.outcome is Outcome.WRONG_VERSION
    assert event.reason == ("the board booted RouterOS 7.15.3, not 7.16.1: the install did "
                            "not take")


@pytest.mark.parametrize("neighbour", [
    Neighbour(mac=OTHER_PORT, version="7.16.1", uptime=1),  # announced from its other port
    Neighbour(mac=bytes(6), software_id="ABCD-EFGH", version="7.16.1", uptime=1),  # by software ID
])
def test_a_board_is_matched_by_any_of_its_macs_or_its_software_id(neighbour):
    (event,) = awaiting().heard(neighbour, now=20.0)
    assert event.outcome is Outcome.VERIFIED and event.mac == MAC


def test_strangers_cost_nothing_and_change_nothing():
    check = awaiting()
    for index in range(1000):
        assert check.heard(Neighbour(mac=index.to_bytes(6, "big"), software_id=f"X{index}",
                                     version="6.0"), now=20.0) == []
    assert check.ignored == 1000 and len(check) == 1


@pytest.mark.parametrize(("required", "outcome"), [(True, Outcome.UNVERIFIED),
                                                   (False, Outcome.REBOOTED)])
def test_not_heard_in_time(required, outcome):
    check = awaiting(required, timeout=30.0)
    assert check.next_deadline() == 40.0 and check.poll(39.9) == []
    (event,) = check.poll(40.0)
    assert event.outcome is outcome and event.reason.startswith("not seen in service: ")
    assert "within 30 s" in event.reason


def test_an_identity_not_yet_set_waits_and_is_said_if_it_never_comes():
    check = awaiting(required=True, identity="core-1", timeout=30.0)
    assert check.heard(Neighbour(mac=MAC, version="7.16.1", identity="MikroTik", uptime=1),
                       15.0) == []
    (event,) = check.heard(Neighbour(mac=MAC, version="7.16.1", identity="core-1", uptime=1), 20.0)
    assert event.outcome is Outcome.VERIFIED and "identity 'core-1'" in event.reason
    check = awaiting(required=True, identity="core-1", timeout=30.0)
    check.heard(Neighbour(mac=MAC, version="7.16.1", identity="MikroTik", uptime=1), 15.0)
    (event,) = check.poll(40.0)
    assert event.outcome is Outcome.UNVERIFIED
    assert "announces identity 'MikroTik', not 'core-1'" in event.reason


def test_the_boards_awaited_are_bounded():
    check = ServiceCheck()
    for index in range(MAX_AWAITED + 10):
        check.expect(index.to_bytes(6, "big"), (), f"ID{index}", "7.16.1", None, float(index))
    assert len(check) == MAX_AWAITED
    assert check.heard(Neighbour(mac=(0).to_bytes(6, "big"), version="7.16.1", uptime=0), 1.0) == []


@pytest.mark.parametrize(("script", "identity"), [
    (b"/system identity set name=core-1\n", "core-1"),
    (b':delay 2s\n/system/identity/set name="a \\"b\\" \\C3\\BC"\n', 'a "b" ü'),
    (b"/system identity set name=a\n/system identity set name=b\n", "b"),
    (b"# /system identity set name=commented\n", None),
    (b"/interface set ether1 name=wan\n", None),
    (None, None),
])
def test_the_identity_a_first_boot_script_sets(script, identity):
    assert scripted_identity(script) == identity


def test_with_verify_one_shot_waits_for_the_board_in_service():
    config = EngineSettings(one_shot=True, verify=True, verify_timeout=60.0)
    clock, network, core, (device,), runners, seen = station_and_boards(config)
    run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 1, limit=60)
    assert core.awaiting_service() == 1 and not core.done(clock.now)
    core.heard(Neighbour(mac=device.mac, version="0.0 (stable)", uptime=1), clock.now + 1)
    assert core.done(clock.now) and core.result.exit_code == 1
    (event,) = [e for e in seen + core.take_events() if isinstance(e, events.InService)]
    assert event.outcome is Outcome.WRONG_VERSION


def test_with_verify_a_board_never_heard_ends_unverified_and_exit_1():
    config = EngineSettings(one_shot=True, verify=True, verify_timeout=20.0)
    clock, network, core, _, runners, seen = station_and_boards(config)
    run_virtual(runners, clock, network, until=lambda: core.done(clock.now), limit=120)
    assert core.result.unverified and core.result.exit_code == 1
    assert [e.outcome for e in seen if isinstance(e, events.InService)] == [Outcome.UNVERIFIED]


def test_without_verify_one_shot_does_not_wait():
    config = EngineSettings(one_shot=True)
    clock, network, core, _, runners, _ = station_and_boards(config)
    run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 1, limit=60)
    assert core.awaiting_service() == 1 and core.done(clock.now)
    assert core.result.exit_code == 0


def test_an_announcement_counts_only_with_an_uptime_that_fits_a_boot_after_our_term():
    """Issue 27 row 8: 14 bytes (header and MAC) decided wrong-version; a neighbour that
    never went down could decide verified."""
    check = awaiting()  # TERM at 7.5
    assert check.heard(Neighbour(mac=MAC, version="7.15.3 (stable)"), now=40.0) == []
    assert check.heard(Neighbour(mac=MAC, version="7.16.1 (stable)", uptime=3600),
                       now=40.0) == []  # up for an hour: not booted since our TERM
    assert check.heard(Neighbour(mac=MAC, version="7.16.1", software_id="ZZZZ-ZZZZ",
                                 uptime=5), now=40.0) == []  # another board's software ID
    assert check.ignored == 3 and len(check) == 1
    (event,) = check.heard(Neighbour(mac=MAC, version="7.16.1 (stable)", uptime=30), 40.0)
    assert event.outcome is Outcome.VERIFIED



def test_a_board_that_asks_for_an_address_after_its_reboot_is_booted_not_unverified():
    check = awaiting(required=True, timeout=30.0)
    assert check.asked_for_address(OTHER_PORT, "host name 'r1'", at=7.0) is None  # before TERM
    assert check.asked_for_address(bytes(6), "no host name logged", at=9.0) is None  # stranger
    assert check.asked_for_address(OTHER_PORT, "host name 'r1'", at=9.0) == MAC  # its port
    assert check.asked_for_address(MAC, "again", at=9.5) is None  # once
    (event,) = check.poll(40.0)
    assert event.outcome is Outcome.BOOTED and event.mac == MAC
    assert event.reason == ("came up and asked for an address (host name 'r1'); its version "
                            "was not announced on this port: docs/verify.md")


def test_mndp_still_decides_when_it_is_heard():
    check = awaiting(required=True)
    check.asked_for_address(MAC, "no host name logged", at=9.0)
    (event,) = check.heard(Neighbour(mac=MAC, version="7.15.3", uptime=1), now=20.0)
    assert event.outcome is Outcome.WRONG_VERSION  # what it announced wins over "booted"


def test_a_board_heard_again_after_its_verdict_is_not_an_other_device():
    """Issue 29 row 17: the station's own boards announcing again (once a minute) were
    counted as 'announcements of boards not awaited'."""
    check = awaiting()
    heard = Neighbour(mac=MAC, version="7.16.1", uptime=12)
    (event,) = check.heard(heard, now=20.0)
    assert event.outcome is Outcome.VERIFIED
    for minute in range(1, 4):
        assert check.heard(Neighbour(mac=MAC, version="7.16.1", uptime=12 + 60 * minute),
                           now=20.0 + 60 * minute) == []
    assert check.heard(Neighbour(mac=bytes(6), software_id="ABCD-EFGH", version="7.16.1"),
                       now=300.0) == []
    assert check.ignored == 0
    check.heard(Neighbour(mac=bytes.fromhex("02aabbccddee"), version="6.49"), now=300.0)
    assert check.ignored == 1  # another device is counted
