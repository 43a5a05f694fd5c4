"""The heartbeat behind `nitools health` and the container's health check."""

import os
import time

from nitools.monitor.health import Heartbeat, check


def test_fresh_stale_and_missing_heartbeats(tmp_path):
    path = tmp_path / "run" / "station.alive"
    assert check(str(path))[0] is False
    beat = Heartbeat(str(path), every=5)
    beat.beat(now=100.0)
    assert check(str(path), max_age=30)[0] is True
    old = time.time() - 60
    os.utime(path, (old, old))
    beat.beat(now=102.0)  # within its period: not touched again
    healthy, message = check(str(path), max_age=30)
    assert not healthy and "60 s old" in message
    beat.beat(now=106.0)
    assert check(str(path), max_age=30)[0] is True
    beat.stop()
    assert not path.exists()
