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


def test_with_no_heartbeat_a_running_station_is_named(tmp_path, monkeypatch):
    """Issue 29 row 23: `nitools health` said "the station is not running" while one ran
    (started without --health-file)."""
    from nitools.monitor import control
    from nitools.monitor.health import check
    from nitools.station.run import OperatorDesk

    monkeypatch.setattr(control, "control_folder", lambda: tmp_path / "control")
    missing = str(tmp_path / "station.alive")
    assert check(missing)[1].endswith("the station is not running (or starting)")
    server = control.ControlServer("line-1", OperatorDesk())
    try:
        healthy, message = check(missing)
    finally:
        server.close()
    assert not healthy
    assert message == (f"no heartbeat at {missing}, but station line-1 runs here: give "
                       "--file the station's --health-file (it keeps none unless started "
                       "with one)")
