"""nitools station's own logic (the lab tests run it whole, with the real dnsmasq)."""

import os
import subprocess
import sys

from nitools.netboot.run_leases import LEASES_PREFIX, remove_stale_lease_folders


def test_lease_folders_of_dead_stations_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f"{LEASES_PREFIX}{dead}-abc"
    live = tmp_path / f"{LEASES_PREFIX}{os.getpid()}-def"
    foreign = tmp_path / f"{LEASES_PREFIX}notapid"
    for folder in (stale, live, foreign):
        folder.mkdir()
        (folder / "eth1.leases").write_text("lease")
    assert remove_stale_lease_folders(str(tmp_path)) == [stale]
    assert not stale.exists() and live.exists() and foreign.exists()


def test_without_a_tftp_root_the_boot_images_follow_the_packages_version(tmp_path):
    from nitools.commands.station import NetbootOptions, boot_version
    from nitools.emulation.synthetic import build_npk
    from nitools.station.setup.options import StationOptions

    system = tmp_path / "routeros-7.16.1-arm64.npk"
    system.write_bytes(build_npk("system", "7.16.1", "arm64", size=2000))
    extra = tmp_path / "container-7.16.1-arm64.npk"
    extra.write_bytes(build_npk("container", "7.16.1", "arm64", size=2000,
                                requires=("system", "7.16.1")))
    given = StationOptions(packages=(str(extra), str(system)))
    assert boot_version(NetbootOptions(), given) == "7.16.1"  # netinstall-cli's way
    assert boot_version(NetbootOptions(), StationOptions(routeros="stable")) == "stable"
    assert boot_version(NetbootOptions(boot_version="7.15.3"), given) == "7.15.3"
    assert boot_version(NetbootOptions(tftp_root=str(tmp_path)), given) is None  # as given
