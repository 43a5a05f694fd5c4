"""The whole station core against emulated boards in virtual time: the runner, the
in-memory network and the virtual clock, no sockets and no sleeps."""

from __future__ import annotations

import pytest

from nitools.emulation.emulator import BoardSpec, EmulatorCore, make_boards
from nitools.emulation.synthetic import build_npk
from nitools.netinstall import events
from nitools.station.engine.contract import ConfigMode
from nitools.station.engine.core import StationCore
from nitools.station.engine.settings import EngineSettings
from nitools.station.plan.ini import InstallDefaults
from nitools.station.plan.payload import PayloadCache
from nitools.station.plan.prepare import prepare_or_refuse
from nitools.wire.link import MemoryNetwork
from nitools.wire.runner import InlineExecutor, Runner, VirtualClock, run_virtual

STATION = bytes.fromhex("02aaaaaaaaaa")
PACKAGE = build_npk(size=50_000)


class Plugin:
    def get_files(self, info):
        return PACKAGE, None


def station_and_boards(config, count=1):
    clock = VirtualClock()
    network = MemoryNetwork(clock)
    core = StationCore(STATION, config)
    cache = PayloadCache()
    seen: list[events.BoardEvent] = []
    station = Runner(network.link(STATION), core, clock=clock, executor=InlineExecutor(),
                     work=lambda r: prepare_or_refuse(Plugin(), r, InstallDefaults(), cache),
                     on_event=seen.append, source_port=5000)
    devices = make_boards(BoardSpec(format_time=0.5), count, seed=5)
    emulator = Runner(network.link(devices[0].macs[0]), EmulatorCore(devices), clock=clock,
                      source_port=5000)
    return clock, network, core, devices, [station, emulator], seen


@pytest.mark.parametrize("once_per_mac", [False, True])
def test_a_board_announcing_again_after_its_install_and_o(once_per_mac):
    config = EngineSettings(once_per_mac=once_per_mac)
    clock, network, core, (device,), runners, seen = station_and_boards(config)
    run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 1, limit=60)
    assert core.result.rebooted == 1 and device.state.value == "rebooted"
    device.reboot(clock.now)  # it net-boots again, as a board left set to netboot does
    run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 2, limit=30)
    found = [e for e in seen if isinstance(e, events.Found)]
    assert len(found) == (1 if once_per_mac else 2)


def test_finished_is_the_last_event_of_every_attempt_and_progress_never_follows_it():
    clock, network, core, devices, runners, seen = station_and_boards(EngineSettings(), count=3)
    run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 3, limit=60)
    assert core.result.rebooted == 3
    for device in devices:
        mine = [type(e).__name__ for e in seen if e.mac == device.mac]
        assert mine[0] == "Found" and mine[-1] == "Finished"
        acknowledged = mine.index("FilesAcknowledged")
        assert "Progress" not in mine[acknowledged:] and "FileStarted" not in mine[acknowledged:]
        assert mine.count("Finished") == 1


def test_once_asks_the_journal_through_a_preparation_never_on_the_loop():
    from nitools.netinstall.frame import decode, encode
    from nitools.netinstall.messages import Announcement, build_dscv
    from nitools.station.engine.contract import InstalledBefore

    core = StationCore(bytes.fromhex("02aaaaaaaaaa"), EngineSettings(once=True))
    board = bytes.fromhex("024e49000077")
    dscv = decode(encode(board, bytes(6), 1, 0, build_dscv(
        Announcement("ONCE-0001", "", "RB", "arm64", "7.12", "7.16.1"))))
    core.receive(dscv, 0.0)
    (request,) = core.take_requests()
    assert request.check_history  # the worker asks; the core never calls the journal
    core.prepared(board, InstalledBefore(41), 0.5)
    skipped = [e for e in core.take_events() if isinstance(e, events.Skipped)]
    assert [e.reason for e in skipped] == [
        "installed before (journal row 41): not installing again (--once)"]
    assert board not in core.boards
    core.receive(dscv, 1.0)  # it keeps announcing: left alone without asking again
    assert core.take_requests() == [] and core.take_events() == []


def test_a_board_whose_files_are_being_fetched_waits_and_is_prepared_again():
    from nitools.netinstall.frame import decode, encode
    from nitools.netinstall.messages import Announcement, build_dscv
    from nitools.station.engine.contract import NotYet
    from nitools.station.engine.core import PREPARE_AGAIN

    core = StationCore(bytes.fromhex("02aaaaaaaaaa"), EngineSettings())
    board = bytes.fromhex("024e49000078")
    dscv = decode(encode(board, bytes(6), 1, 0, build_dscv(
        Announcement("WAIT-0001", "", "RB", "arm64", "7.12", "7.16.1"))))
    core.receive(dscv, 0.0)
    assert [r.mac for r in core.take_requests()] == [board]
    core.take_events()
    core.prepared(board, NotYet("being fetched for another board"), 0.1)
    core.receive(dscv, 0.5)  # it keeps announcing: no second board, no second Found
    assert core.take_requests() == [] and core.take_events() == []
    assert core.next_deadline() <= 0.1 + PREPARE_AGAIN
    core.poll(0.1 + PREPARE_AGAIN)
    assert [r.mac for r in core.take_requests()] == [board]  # asked again, once
    assert board in core.boards and core.result.finished == 0


def _stranger_offered(core, mac, at):
    """A DSCV from a made-up MAC, its files prepared: it is offered an install."""
    from nitools.netinstall.frame import decode, encode
    from nitools.netinstall.messages import Announcement, build_dscv
    from nitools.netinstall.server import InstallFile
    from nitools.station.engine.contract import InstallPlan

    dscv = decode(encode(mac, bytes(6), 1, 0, build_dscv(
        Announcement("", "", "RB", "arm64", "7.12", "7.16.1"))))
    core.receive(dscv, at)
    for request in core.take_requests():
        core.prepared(request.mac, InstallPlan([InstallFile("r.npk", PACKAGE)], [],
                                               ConfigMode.DEFAULT, sources=["test"],
                                               digests=["-"]), at)
    return dscv


@pytest.mark.parametrize("ending", [{"one_shot": True}, {"count": 1}])
def test_a_stray_announcement_never_ends_a_one_shot_run(ending):
    """Issue 27 row 3: one DSCV from a made-up MAC, ignored offer, and -1 exited 1."""
    stranger = bytes.fromhex("02bad0000001")
    core = StationCore(STATION, EngineSettings(**ending))
    dscv = _stranger_offered(core, stranger, 0.0)
    core.poll(9.0)  # the offer timeout (8 s) passes without an answer
    (finished,) = [e for e in core.take_events() if isinstance(e, events.Finished)]
    assert finished.cause is events.FailureCause.OFFER_IGNORED  # journaled as it was
    assert not core.done(9.0) and core.result.failed == 0 and core.result.exit_code == 0
    assert core.result.never_answered == 1
    core.receive(dscv, 10.0)  # it announces again: rested, not offered again at once
    assert core.take_requests() == []


def test_a_board_pinned_by_mac_that_ignores_the_offer_ends_the_run_as_failed():
    pinned = bytes.fromhex("02bad0000002")
    core = StationCore(STATION, EngineSettings(one_shot=True, macs=frozenset({pinned})))
    _stranger_offered(core, pinned, 0.0)
    core.poll(9.0)
    assert core.done(9.0) and core.result.failed == 1 and core.result.exit_code == 1


def test_a_squatter_on_a_boards_software_id_never_keeps_it_from_its_install():
    """Issue 27 row 4: announcing a board's software ID ten times a second from new MACs
    kept it from ever being offered (the forged board owned the ID, the real board became
    its "other port", the forged failure rested the ID, the forged rows listed it)."""
    from nitools.netinstall.frame import decode, encode
    from nitools.netinstall.messages import build_dscv

    clock, network, core, (device,), runners, seen = station_and_boards(
        EngineSettings(one_shot=True))
    announced = device.announcement
    forged = 0
    while core.result.rebooted == 0 and clock.now < 60.0:
        forged += 1  # a new MAC with the board's software ID, every 0.1 s
        core.receive(decode(encode(bytes([2, 0xBA, 0, 0, forged >> 8, forged & 0xFF]),
                                   bytes(6), 1, 0, build_dscv(announced))), clock.now)
        run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 1,
                    limit=0.1)
    assert core.result.rebooted == 1 and device.state.value == "rebooted"
    finished = [e for e in seen if isinstance(e, events.Finished)]
    squatters = [e for e in finished if e.mac != device.mac]
    assert all(e.macs == (e.mac,) for e in squatters)  # never the board's MAC
    assert all(e.cause is events.FailureCause.OFFER_IGNORED for e in squatters)
    assert core.result.failed == 0  # strangers end nothing and count as nothing



def test_a_board_announcing_on_three_ports_is_installed_once_and_nothing_failed():
    """Its ports announce with one software ID; the first port that takes the offer owns
    it; the others are its ports (skipped, never journaled as failures)."""
    clock, network, core, _, runners, seen = station_and_boards(EngineSettings(one_shot=True))
    device = make_boards(BoardSpec(format_time=0.5, ports=3), 1, seed=9)[0]
    runners[1] = Runner(network.link(device.macs[0]), EmulatorCore([device]), clock=clock,
                        source_port=5000)
    run_virtual(runners, clock, network, until=lambda: core.done(clock.now), limit=60)
    assert core.result.rebooted == 1 and core.result.failed == 0
    (finished,) = [e for e in seen if isinstance(e, events.Finished)]
    assert set(finished.macs) == set(device.macs)
    skipped = [e for e in seen if isinstance(e, events.Skipped)]
    assert all("another port of the board" in e.reason for e in skipped)


def test_a_station_stopping_while_a_stranger_waits_on_its_offer_interrupted_nothing():
    stranger = bytes.fromhex("02bad0000003")
    core = StationCore(STATION, EngineSettings())
    _stranger_offered(core, stranger, 0.0)
    core.take_events()
    core.close(1.0)
    (finished,) = [e for e in core.take_events() if isinstance(e, events.Finished)]
    assert (finished.outcome, finished.cause) == (events.Outcome.REFUSED,
                                                  events.FailureCause.STATION_STOPPED)
    assert core.result.interrupted == [] and core.result.exit_code == 0


def test_a_board_that_is_not_a_mac_board_is_told_once_not_every_second():
    """Issue 29 row 13: a wrong --mac gave no feedback while another board announced."""
    from nitools.netinstall.frame import decode, encode
    from nitools.netinstall.messages import Announcement, build_dscv

    wanted, other = bytes.fromhex("024e49000001"), bytes.fromhex("024e49000002")
    core = StationCore(STATION, EngineSettings(macs=frozenset({wanted})))
    dscv = decode(encode(other, bytes(6), 1, 0, build_dscv(
        Announcement("", "", "RB", "arm64", "7.12", "7.16.1"))))
    for second in range(5):
        core.receive(dscv, float(second))
    (told,) = core.take_events()
    assert isinstance(told, events.NotServed) and told.mac == other
    assert told.reason == "ignored: not a --mac board (--mac names 02:4e:49:00:00:01)"
    assert core.take_requests() == []
    for index in range(100):  # a flood of made-up MACs is told about a few at a time
        core.receive(decode(encode(bytes([2, 9, 0, 0, 0, index]), bytes(6), 1, 0,
                                   dscv.payload)), 5.0)
    assert len(core.take_events()) <= 10
