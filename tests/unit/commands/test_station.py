"""nitools station's own logic (the lab tests run it whole, with the real dnsmasq)."""

import os
import subprocess
import sys

from nitools.commands.station import LEASES_PREFIX, _remove_stale_lease_folders


def test_lease_folders_of_dead_stations_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f"{LEASES_PREFIX}{dead}-abc"
    live = tmp_path / f"{LEASES_PREFIX}{os.getpid()}-def"
    foreign = tmp_path / f"{LEASES_PREFIX}notapid"
    for folder in (stale, live, foreign):
        folder.mkdir()
        (folder / "eth1.leases").write_text("lease")
    assert _remove_stale_lease_folders(str(tmp_path)) == [stale]
    assert not stale.exists() and live.exists() and foreign.exists()
