"""The board table both live displays read: rows from events, rates, a bounded history."""

import threading

from nitools.monitor.board_table import KEEP_FINISHED, BoardTable
from nitools.netinstall import events
from nitools.netinstall.messages import Announcement

MAC = bytes.fromhex("024e49000001")
BOARD = Announcement("ABCD-EFGH", "", "RB5009", "arm64", "7.12", "7.16.1")


def test_a_board_moves_through_its_phases_with_rate_and_eta():
    table = BoardTable()
    table(events.Found(0.0, MAC, BOARD, "eth1"))  # the port comes with the event
    table(events.Formatting(1.0, MAC))
    table(events.UploadStarted(10.0, MAC, 1000))
    table(events.Progress(12.0, MAC, 400, 1000))
    (row,) = table.snapshot()[1]
    assert (row["port"], row["model"], row["arch"], row["phase"]) == (
        "eth1", "RB5009", "arm64", "uploading")
    assert row["rate"] == 200.0 and row["eta"] == 3.0 and "upload_started" not in row
    table(events.Finished(14.0, MAC, events.Outcome.FAILED, "board stopped answering",
                          events.FailureCause.STALLED))
    (row,) = table.snapshot()[1]
    assert (row["phase"], row["result"], row["finished"], row["eta"]) == (
        "failed", "failed", True, None)


def test_a_board_found_again_after_it_finished_gets_a_new_row():
    table = BoardTable()
    table(events.Found(0.0, MAC, BOARD))
    table(events.Finished(1.0, MAC, events.Outcome.REBOOTED, "ok"))
    table(events.Found(2.0, MAC, BOARD))
    (row,) = table.snapshot()[1]
    assert row["phase"] == "preparing" and not row["finished"]


def test_finished_rows_are_bounded_and_the_oldest_go_first():
    table = BoardTable()
    for index in range(KEEP_FINISHED + 50):
        mac = index.to_bytes(6, "big")
        table(events.Found(0.0, mac, BOARD))
        table(events.Finished(1.0, mac, events.Outcome.REBOOTED, "ok"))
    rows = table.snapshot()[1]
    assert len(rows) == KEEP_FINISHED
    assert rows[0]["mac"] == (50).to_bytes(6, "big").hex(":")


def test_a_reader_waiting_for_a_change_wakes_on_the_next_event():
    table = BoardTable()
    seen = table.snapshot()[0]
    threading.Timer(0.05, lambda: table(events.Found(0.0, MAC, BOARD))).start()
    assert table.wait_for_change(seen, timeout=5) == seen + 1
