"""The closing summary counts this run's journal rows, naming the boards: it says what the
journal says, no less (refused rows as refused) and no more."""

import re
from collections import Counter

from nitools.journal.attempts import Journal
from nitools.journal.tally import NAMED, RunTally
from nitools.journal.writer import JournalWriter
from nitools.netinstall import events
from nitools.netinstall.frame import format_mac
from tests.helpers import attempt_events


def mac(n: int) -> bytes:
    return bytes([2, 0x4E, 0x49, 0, 0, n])


def test_the_summary_equals_the_journal_in_a_run_with_every_outcome(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    writer = JournalWriter(journal, clock=lambda: 100.0)
    for n, outcome in enumerate(("rebooted", "rebooted", "rebooted", "rebooted",
                                 "failed", "unconfirmed", "interrupted"), start=1):
        for event in attempt_events(mac(n), outcome):
            writer(event)
    for event in attempt_events(mac(8), "refused", offered=False):  # refused before an offer
        writer(event)
    found, _ = attempt_events(mac(9), "failed", offered=False)
    writer(found)  # an offer nobody answered
    writer(events.Finished(1.0, mac(9), events.Outcome.FAILED, "no answer",
                           events.FailureCause.OFFER_IGNORED, macs=(mac(9),)))
    writer(events.Netboot(0.0, mac(10), events.NetbootKind.TFTP, "netinstall.arm64"))
    writer(events.Silent(1.0, mac(10), "never announced",
                          events.FailureCause.NEVER_ANNOUNCED))
    writer(events.Released(1.0, mac(11)))
    for n, outcome in ((1, events.Outcome.VERIFIED), (2, events.Outcome.WRONG_VERSION),
                       (3, events.Outcome.UNVERIFIED), (4, events.Outcome.REBOOTED)):
        writer(events.InService(2.0, mac(n), outcome, "seen" if n < 4 else "not seen"))

    rows = journal.attempts()
    lines = writer.tally.lines()
    by_outcome = Counter(r.outcome for r in rows)
    assert by_outcome == Counter({"rebooted": 1, "verified": 1, "wrong-version": 1,
                                  "unverified": 1, "failed": 2, "unconfirmed": 1,
                                  "interrupted": 1, "refused": 1, "silent": 1, "released": 1})
    assert lines[0] == ("this run's journal: 4 rebooted, 1 unconfirmed, 1 failed, "
                        "1 never answered an offer, 1 refused, 1 interrupted, 1 silent, "
                        "1 released")
    assert f"  refused: {format_mac(mac(8))}" in lines
    assert f"  never answered an offer: {format_mac(mac(9))}" in lines
    assert "in service: 1 verified, 1 wrong-version, 1 unverified, 1 not-seen" in lines
    assert f"  verified: {format_mac(mac(1))}" in lines
    assert f"  not-seen: {format_mac(mac(4))}" in lines
    # Every row of the journal is named once in the summary, under its own outcome
    named = Counter(re.findall(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", "\n".join(lines)))
    assert sorted(named) == sorted(r.answered_mac for r in rows)
    assert sum(named.values()) == len(rows) + 4  # and the four rebooted in service


def test_a_row_the_journal_did_not_take_is_not_counted(tmp_path, monkeypatch):
    journal = Journal(tmp_path / "j.sqlite3")
    writer = JournalWriter(journal, clock=lambda: 0.0)

    def full_disk(sql, values):
        from nitools.journal.stores import JournalError
        raise JournalError("cannot write the journal: disk is full")

    monkeypatch.setattr(journal.store, "write", full_disk)
    for event in attempt_events(mac(1), "refused", offered=False):
        writer(event)
    assert writer.tally.lines() == ["this run's journal: no rows (no board was found)"]


def test_many_boards_are_named_up_to_a_bound_and_counted():
    tally = RunTally()
    for n in range(NAMED + 5):
        tally.row("refused", None, f"02:00:00:00:00:{n:02x}")
    tally.not_journaled = 7
    lines = tally.lines()
    assert lines[0] == f"this run's journal: {NAMED + 5} refused"
    assert lines[1].endswith("and 5 more") and lines[1].count(", ") == NAMED - 1
    assert lines[-1].startswith("and 7 rows of boards that never answered")
