"""Outcomes and failure causes: what each means, that each failure has one, and that the
documentation lists the same words the journal and metrics use."""

import re
from pathlib import Path

from nitools.netinstall.events import FailureCause, Outcome
from nitools.netinstall.frame import Frame
from nitools.netinstall.server import InstallFile, Phase, ServerSession

REPO = Path(__file__).resolve().parents[3]
SERVER, DEVICE = bytes.fromhex("02aaaaaaaaaa"), bytes.fromhex("024e49000001")


def test_only_a_confirmed_reboot_is_success_and_unconfirmed_still_holds_the_files():
    # (verified: a confirmed reboot, then seen in service)
    assert [o for o in Outcome if o.success] == [Outcome.REBOOTED, Outcome.VERIFIED]
    assert {o for o in Outcome if o.installed} == {Outcome.REBOOTED, Outcome.UNCONFIRMED}


def test_causes_are_distinct_words_and_the_docs_list_every_one():
    values = [cause.value for cause in FailureCause]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", value) for value in values)
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", (REPO / "docs" / "flash.md").read_text(),
                                re.MULTILINE))
    assert set(values) <= documented


def session() -> ServerSession:
    return ServerSession(SERVER, DEVICE, [InstallFile("routeros.npk", bytes(3000))], window=4)


def reply(seq: int, payload: bytes) -> Frame:
    return Frame(DEVICE, SERVER, seq, seq, payload)


def test_a_board_that_ignores_the_offer_fails_with_its_cause():
    offered = session()
    offered.start(0.0)
    offered.poll(offered.timing.offer_timeout + 1)
    assert (offered.phase, offered.cause) == (Phase.FAILED, FailureCause.OFFER_IGNORED)


def test_a_rejected_key_and_a_format_that_never_ends_have_their_causes():
    rejected = session()
    rejected.start(0.0)
    rejected.receive(reply(1, b"NACK\n"), 0.1)
    assert rejected.cause is FailureCause.KEY_REJECTED
    formatting = session()
    formatting.start(0.0)
    formatting.receive(reply(1, b"YACK\n"), 0.1)
    assert formatting.phase is Phase.FORMATTING
    formatting.poll(0.1 + formatting.timing.format_timeout + 1)
    assert formatting.cause is FailureCause.FORMAT_TIMEOUT


def test_a_session_stopped_from_outside_says_the_station_stopped():
    stopped = session()
    stopped.start(0.0)
    stopped.abort("the station stopped mid-install")
    assert stopped.cause is FailureCause.STATION_STOPPED
    assert stopped.failure == "the station stopped mid-install"
