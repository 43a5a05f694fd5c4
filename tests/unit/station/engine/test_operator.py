"""The operator in the loop, in virtual time against emulated boards: hold and approve,
skip, reinstall, --after-install wait and reboot, a stop with a waiting board, and the
answers an action that does not fit gets."""

from __future__ import annotations

import hashlib

from nitools.netinstall import events
from nitools.netinstall.frame import decode, encode
from nitools.netinstall.messages import Announcement, build_dscv
from nitools.netinstall.server import InstallFile
from nitools.station.engine.contract import ConfigMode, InstallPlan
from nitools.station.engine.core import StationCore
from nitools.station.engine.operator import Action, Verdict
from nitools.station.engine.settings import EngineSettings
from nitools.wire.runner import run_virtual
from tests.unit.station.engine.test_core import PACKAGE, STATION, station_and_boards

WHO = "socket uid 0 pid 1"


def of(seen, kind):
    return [event for event in seen if isinstance(event, kind)]


def act(core, runners, action, mac, now):
    acted, frames = core.act(action, mac, WHO, now)
    runners[0].send(frames)  # on the wire, as the loop sends them
    return acted


def test_a_held_board_waits_unoffered_until_approved_then_installs():
    clock, network, core, (device,), runners, seen = station_and_boards(
        EngineSettings(hold=True, one_shot=True))
    run_virtual(runners, clock, network, until=lambda: bool(of(seen, events.Held)), limit=30)
    run_virtual(runners, clock, network, until=lambda: False, limit=20)  # 20 s held
    assert of(seen, events.Offered) == [] and device.state.value == "discovering"
    assert [row["phase"] for row in core.view()] == ["held"]
    (validated,) = of(seen, events.Validated)  # its files were checked before the hold
    acted = act(core, runners, Action.APPROVE, device.mac, clock.now)
    assert (acted.verdict, acted.phase) == (Verdict.DONE, "offering")
    run_virtual(runners, clock, network, until=lambda: core.done(clock.now), limit=60)
    assert core.result.rebooted == 1 and device.state.value == "rebooted"
    (operator,) = of(seen, events.OperatorActed)
    assert (operator.action, operator.by) == ("approve", WHO)
    assert len(of(seen, events.Validated)) == 1  # not checked twice
    assert validated.at < operator.at


def test_a_skipped_board_is_never_offered_in_this_run_and_counts_for_nothing():
    clock, network, core, (device,), runners, seen = station_and_boards(
        EngineSettings(hold=True, one_shot=True))
    run_virtual(runners, clock, network, until=lambda: bool(of(seen, events.Held)), limit=30)
    acted = act(core, runners, Action.SKIP, device.mac, clock.now)
    assert (acted.verdict, acted.phase) == (Verdict.DONE, "skipped")
    (finished,) = of(seen, events.Finished) or [
        e for e in core.take_events() if isinstance(e, events.Finished)]
    assert (finished.outcome, finished.cause) == (events.Outcome.SKIPPED,
                                                  events.FailureCause.OPERATOR)
    assert WHO in finished.reason
    run_virtual(runners, clock, network, until=lambda: False, limit=15)  # it keeps announcing
    assert len(of(seen, events.Found)) == 1 and of(seen, events.Offered) == []
    assert core.result.finished == 0 and not core.done(clock.now)  # -1 still waits


def test_a_held_board_that_stops_announcing_is_dropped_and_journaled():
    core = StationCore(STATION, EngineSettings(hold=True, announce_timeout=30.0))
    mac = bytes.fromhex("024e49000101")
    dscv = decode(encode(mac, bytes(6), 1, 0, build_dscv(
        Announcement("HOLD-0001", "", "RB5009", "arm64", "7.12", "7.16.1"))))
    core.receive(dscv, 0.0)
    assert [r.mac for r in core.take_requests()] == [mac]
    core.prepared(mac, InstallPlan([InstallFile("r.npk", PACKAGE)], [], ConfigMode.DEFAULT,
                                   sources=["test"], digests=["-"]), 0.5)
    core.receive(dscv, 10.0)  # still announcing at 10 s
    core.poll(35.0)  # 25 s since: kept
    assert core.view()[0]["phase"] == "held"
    core.poll(41.0)  # 31 s since its last announcement: gone
    (finished,) = [e for e in core.take_events() if isinstance(e, events.Finished)]
    assert (finished.outcome, finished.cause) == (events.Outcome.SKIPPED,
                                                  events.FailureCause.LEFT_WHILE_HELD)
    assert mac not in core.boards and core.result.finished == 0


def test_approved_while_its_files_are_prepared_it_is_offered_at_once():
    core = StationCore(STATION, EngineSettings(hold=True))
    mac = bytes.fromhex("024e49000102")
    core.receive(decode(encode(mac, bytes(6), 1, 0, build_dscv(
        Announcement("HOLD-0002", "", "RB", "arm64", "7.12", "7.16.1")))), 0.0)
    core.take_requests()
    acted, frames = core.act(Action.APPROVE, mac, WHO, 0.1)
    assert (acted.verdict, acted.phase, frames) == (Verdict.DONE, "preparing", [])
    offer = core.prepared(mac, InstallPlan([InstallFile("r.npk", PACKAGE)], [],
                                           ConfigMode.DEFAULT, sources=["t"], digests=["-"]),
                          0.5)
    assert offer and core.view()[0]["phase"] == "offering"


def test_an_inventory_row_holds_its_board_on_a_station_that_does_not():
    core = StationCore(STATION, EngineSettings())
    mac = bytes.fromhex("024e49000103")
    core.receive(decode(encode(mac, bytes(6), 1, 0, build_dscv(
        Announcement("HOLD-0003", "", "RB", "arm64", "7.12", "7.16.1")))), 0.0)
    core.take_requests()
    script = b"/system identity set name=r1\n"
    plan = InstallPlan([InstallFile("r.npk", PACKAGE), InstallFile("autorun.scr", script)], [],
                       ConfigMode.SCRIPT, sources=["t", "t"], digests=["-", "-"], hold=True)
    assert core.prepared(mac, plan, 0.5) == []  # held: no offer on the wire
    (row,) = core.view()
    assert row["phase"] == "held"
    assert row["plan"]["identity"] == "r1"
    assert row["plan"]["script_sha256"] == hashlib.sha256(script).hexdigest()


def test_after_install_wait_holds_term_until_the_operator_reboots_the_board():
    clock, network, core, (device,), runners, seen = station_and_boards(
        EngineSettings(after_install="wait", one_shot=True))
    run_virtual(runners, clock, network, until=lambda: bool(of(seen, events.WaitingForReboot)),
                limit=60)
    run_virtual(runners, clock, network, until=lambda: False, limit=120)  # 2 minutes
    assert device.state.value == "waiting-term"  # still asking for TERM, never hung
    assert of(seen, events.RebootSent) == [] and core.result.rebooted == 0
    assert core.view()[0]["phase"] == "waiting" and not core.done(clock.now)
    acted = act(core, runners, Action.REBOOT, device.mac, clock.now)
    assert (acted.verdict, acted.phase) == (Verdict.DONE, "rebooting")
    run_virtual(runners, clock, network, until=lambda: core.done(clock.now), limit=30)
    assert core.result.rebooted == 1 and device.state.value == "rebooted"


def test_a_stop_reboots_the_boards_waiting_after_their_install_first():
    clock, network, core, (device,), runners, seen = station_and_boards(
        EngineSettings(after_install="wait"))
    run_virtual(runners, clock, network, until=lambda: bool(of(seen, events.WaitingForReboot)),
                limit=60)
    assert core.waiting_for_reboot() == 1
    core.request_stop(clock.now)
    run_virtual(runners, clock, network, until=lambda: core.done(clock.now), limit=30)
    assert core.result.rebooted == 1 and device.state.value == "rebooted"


def test_reinstall_forgets_o_for_one_board():
    clock, network, core, (device,), runners, seen = station_and_boards(
        EngineSettings(once_per_mac=True))
    run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 1, limit=60)
    device.reboot(clock.now)  # it net-boots again: -o leaves it alone
    run_virtual(runners, clock, network, until=lambda: False, limit=10)
    assert len(of(seen, events.Found)) == 1
    acted = act(core, runners, Action.REINSTALL, device.mac, clock.now)
    assert (acted.verdict, acted.phase) == (Verdict.DONE, "reinstall")
    run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 2, limit=60)
    assert core.result.rebooted == 2 and len(of(seen, events.Found)) == 2


def test_an_action_that_does_not_fit_is_a_conflict_and_an_unknown_board_unknown():
    clock, network, core, (device,), runners, seen = station_and_boards(EngineSettings())
    run_virtual(runners, clock, network, until=lambda: bool(of(seen, events.UploadStarted)),
                limit=60)
    for action in (Action.APPROVE, Action.SKIP, Action.REBOOT, Action.REINSTALL):
        acted = act(core, runners, action, device.mac, clock.now)
        assert (acted.verdict, acted.phase) == (Verdict.CONFLICT, "uploading"), action
    acted = act(core, runners, Action.APPROVE, bytes.fromhex("02ffffffffff"), clock.now)
    assert acted.verdict is Verdict.UNKNOWN
    run_virtual(runners, clock, network, until=lambda: core.result.rebooted == 1, limit=60)
    acted = act(core, runners, Action.REBOOT, device.mac, clock.now)  # done already
    assert (acted.verdict, acted.phase) == (Verdict.CONFLICT, "rebooted")
    assert of(seen, events.OperatorActed) == []  # nothing done, nothing journaled
