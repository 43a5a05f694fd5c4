"""The sequence plan: one table of which frame has which seq and what the board answers."""

from hypothesis import given
from hypothesis import strategies as st

from nitools.netinstall.protocol import (
    COUNTER_LIMIT,
    REPLY,
    RETR,
    WTRM,
    YACK,
    Role,
    SequencePlan,
    frame_count,
)


def test_a_two_file_plan_numbers_every_frame():
    plan = SequencePlan([3000, 10], chunk_size=1452)  # 3 chunks, then 1
    roles = [plan.locate(seq)[0] for seq in range(1, plan.term_seq + 1)]
    assert roles == [Role.OFFER, Role.FORMAT, Role.START,
                     Role.FILE_HEADER, Role.DATA, Role.DATA, Role.DATA, Role.END_OF_FILE,
                     Role.FILE_HEADER, Role.DATA, Role.END_OF_FILE,
                     Role.END_OF_FILES, Role.TERM]
    assert frame_count([3000, 10]) == plan.term_seq == 13
    assert (plan.reply(1), plan.reply(5), plan.reply(12), plan.reply(13)) == (
        YACK, RETR, WTRM, None)


@given(st.lists(st.integers(0, 20_000), max_size=6), st.integers(1, 1452))
def test_the_quick_reply_is_the_table_entry_of_the_frames_role(sizes, chunk):
    plan = SequencePlan(sizes, chunk)
    for seq in range(1, plan.term_seq + 1):
        assert plan.reply(seq) == REPLY[plan.locate(seq)[0]]


@given(st.lists(st.integers(0, 20_000), max_size=6), st.integers(1, 1452))
def test_acknowledged_bytes_grow_to_the_total_and_data_frames_cover_each_file(sizes, chunk):
    plan = SequencePlan(sizes, chunk)
    acked = [plan.bytes_acked(seq) for seq in range(plan.term_seq + 1)]
    assert acked == sorted(acked) and acked[-1] == sum(sizes)
    for slot in plan.slots:
        data = [s for s in range(slot.header_seq, slot.eof_seq) if plan.locate(s)[0] is Role.DATA]
        assert len(data) == slot.chunks
        assert [plan.chunk_start(slot, s) for s in data] == list(range(0, slot.size, chunk))


def test_plans_beyond_the_16_bit_counter_do_not_fit():
    assert SequencePlan([1452 * (COUNTER_LIMIT - 7)]).fits_counter
    assert not SequencePlan([1452 * (COUNTER_LIMIT - 6)]).fits_counter
