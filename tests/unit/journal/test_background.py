"""The journal writer's own thread: the loop never waits, nothing is lost."""



from nitools.journal.attempts import (
    Journal,
)
from nitools.netinstall.messages import Announcement
from tests.helpers import attempt_events

INFO = Announcement("ABCD-EFGH", "", "RB5009", "arm64", "7.12", "7.16.1")


def test_the_background_writer_never_makes_the_loop_wait_and_loses_nothing(tmp_path,
                                                                          monkeypatch):
    import time

    from nitools.journal.background import BackgroundWriter
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    real_write = journal.store.write

    def slow_disk(sql, values):
        time.sleep(0.05)  # a slow fsync or a far database
        return real_write(sql, values)

    monkeypatch.setattr(journal.store, "write", slow_disk)
    background = BackgroundWriter(JournalWriter(journal))
    started = time.monotonic()
    for index in range(10):
        for event in attempt_events(bytes([2, 0, 0, 0, 0, index + 1])):
            background(event)
    handed_over = time.monotonic() - started
    background.close()  # waits for every row
    rows = journal.attempts()
    assert handed_over < 0.05 < 10 * 2 * 0.05 <= time.monotonic() - started
    assert [r.answered_mac[-2:] for r in rows] == [f"{i:02x}" for i in range(1, 11)]
    assert {r.outcome for r in rows} == {"rebooted"}
