"""Each session's window and timer, and the station-wide budget of frames in flight."""

import pytest

from nitools.netinstall.congestion import Congestion, SendBudget


def test_the_window_grows_per_answer_up_to_its_limit_and_halves_on_a_loss():
    congestion = Congestion(32, 0.003, 0.5, seed=1)
    assert congestion.window == 2
    for _ in range(100):
        congestion.on_ack()
    assert congestion.window == 32  # never above the limit
    congestion.on_loss()
    assert congestion.window == 16 and congestion.ssthresh == 16.0
    congestion.on_ack()  # past the threshold: one frame per round trip, not per answer
    assert congestion.window == 16


def test_stop_and_wait_keeps_one_frame_in_flight():
    congestion = Congestion(1, 0.003, 0.5, seed=1)
    congestion.on_ack()
    assert congestion.window == 1


def test_the_timer_follows_the_round_trip_within_its_bounds():
    congestion = Congestion(32, 0.003, 0.5, seed=1)
    assert congestion.rto == 0.5  # nothing measured yet: the longest
    for _ in range(50):
        congestion.sample(0.0001)
    assert congestion.rto == 0.003  # a LAN round trip: the floor
    for _ in range(50):
        congestion.sample(2.0)
    assert congestion.rto == 0.5  # a slow board: the ceiling
    congestion.sample(0.0001)
    congestion.on_timer()
    assert congestion.rto == 0.5


def test_a_loss_stretches_the_timer_by_at_most_a_quarter():
    congestion = Congestion(32, 0.003, 0.5, seed=7)
    for _ in range(20):
        congestion.on_loss()
        assert congestion.rto <= congestion.resend_after <= congestion.rto * 1.25


@pytest.mark.parametrize(("limit", "sessions", "share"), [(512, 0, 512), (512, 4, 128),
                                                          (512, 1000, 2), (0, 1, 2)])
def test_each_uploading_session_gets_a_fair_share_and_at_least_two(limit, sessions, share):
    budget = SendBudget(limit)
    for _ in range(sessions):
        budget.count(+1)
    assert budget.fair_share == share
