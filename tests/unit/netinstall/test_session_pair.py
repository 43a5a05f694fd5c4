"""Flasher and emulated board against each other in memory, with seeded faults."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nitools.netinstall.device import DeviceProfile, DeviceSession, DeviceState
from nitools.netinstall.messages import Announcement
from nitools.netinstall.server import InstallFile, Phase, ServerSession, Timing
from tests.unit.simulation import Wire, run

SERVER = bytes.fromhex("02aaaaaaaaaa")
BOARD = bytes.fromhex("024e49000001")
KEY = "S2V5S2V5S2V5S2V5"
PACKAGE = hashlib.sha256(b"seed").digest() * 4000  # 128000 bytes, 89 chunks
FILES = [InstallFile("routeros-7.16.1-arm64.npk", PACKAGE),
         InstallFile("extra-7.16.1-arm64.npk", PACKAGE[:5000]),
         InstallFile("autorun.scr", b"/system identity set name=a\n")]


def device(announcement=None, **profile):
    announcement = announcement or Announcement("AB-CD", KEY, "RB", "arm64", "7.12", "7.16")
    return DeviceSession([BOARD], DeviceProfile(announcement, **profile))


def server_for(files=FILES, **kwargs):
    def make(announcement, mac):
        kwargs.setdefault("window", 1)
        return ServerSession(SERVER, mac, files, key=announcement.key, **kwargs)
    return make


def received(dev):
    return [(f.name, bytes(f.data)) for f in dev.files]


def expected(files=FILES):
    return [(f.name, f.data) for f in files]


def test_clean_install_delivers_every_file_byte_identical():
    result = run(device(format_time=2.0), server_for())
    assert result.server.phase is Phase.DONE
    assert result.device.state is DeviceState.REBOOTED
    assert received(result.device) == expected()
    assert result.server.retransmissions == 0


@pytest.mark.parametrize("window", [1, 8])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_loss_and_duplication_are_recovered(window, seed):
    wire = Wire(drop=0.05, duplicate=0.05, seed=seed)
    result = run(device(), server_for(window=window), wire)
    assert result.server.phase is Phase.DONE, result.server.failure
    assert received(result.device) == expected()
    assert result.server.retransmissions > 0


@settings(max_examples=25, deadline=None)
@given(drop=st.floats(0, 0.2), duplicate=st.floats(0, 0.2), seed=st.integers(0, 10_000),
       window=st.sampled_from([1, 2, 5, 16]))
def test_any_moderate_loss_still_gives_identical_files(drop, duplicate, seed, window):
    files = [InstallFile("a.npk", PACKAGE[:20_000]), InstallFile("autorun.scr", b"x\n")]
    result = run(device(), server_for(files, window=window),
                 Wire(drop=drop, duplicate=duplicate, seed=seed))
    if result.server.phase is Phase.DONE:
        assert received(result.device) == expected(files)
    else:  # only acceptable if the offer itself never got through, i.e. nothing was touched
        assert result.device.files == []


def test_licence_key_from_the_announcement_is_echoed_and_accepted():
    result = run(device(key_required=True), server_for())
    assert result.server.phase is Phase.DONE
    assert result.device.installed_key == KEY


def test_board_that_requires_a_key_ignores_a_keyless_offer():
    def keyless(announcement, mac):
        return ServerSession(SERVER, mac, FILES, key="", timing=Timing(offer_timeout=5),
                             window=1)
    result = run(device(key_required=True), keyless)
    assert result.server.phase is Phase.FAILED
    assert "ignored the offer" in result.server.failure
    assert result.device.files == []


def test_keep_configuration_reaches_the_board():
    result = run(device(), server_for(keep=True))
    assert result.device.keep


def test_empty_configuration_is_a_zero_length_script():
    files = [FILES[0], InstallFile("autorun.scr", b"")]
    result = run(device(), server_for(files))
    assert received(result.device)[-1] == ("autorun.scr", b"")


def test_v6_board_installs_too():
    v6 = Announcement("", "", "RB ", "mipsbe", "6.40")
    result = run(device(v6), server_for())
    assert result.server.phase is Phase.DONE
    assert received(result.device) == expected()


def test_boot_image_too_old_fails_after_the_format_timeout():
    result = run(device(image_too_old=True), server_for(timing=Timing(format_timeout=30)))
    assert result.server.phase is Phase.FAILED
    assert "STRT" in result.server.failure
    assert 30 <= result.elapsed < 31


def test_slow_format_within_the_limit_succeeds():
    result = run(device(format_time=150), server_for(timing=Timing(format_timeout=180)))
    assert result.server.phase is Phase.DONE


def test_format_longer_than_the_limit_fails_cleanly():
    result = run(device(format_time=150), server_for(timing=Timing(format_timeout=60)))
    assert result.server.phase is Phase.FAILED


def test_server_gives_up_soon_after_the_board_does():
    # A wire that stops delivering anything once the first file header went out.
    dev = device()
    state = {"cut": False}

    class CutWire(Wire):
        def copies(self):
            if any(d[20:24] == b"FILE" for d in self.delivered_to_device):
                state["cut"] = True
                return 0
            return 1

    result = run(dev, server_for(timing=Timing(stall_timeout=10)), CutWire())
    assert state["cut"]
    assert dev.state is DeviceState.ABORTED  # after 9 s of RETR resends
    assert result.server.phase is Phase.FAILED
    assert "stopped answering for 10 s" in result.server.failure
