"""Prometheus metrics from the station's events: outcomes, causes, bounded labels."""

import pytest

from nitools.errors import UsageError
from nitools.monitor.metrics import StationMetrics, arch_label, parse_listen
from nitools.netinstall import events
from nitools.netinstall.messages import Announcement

prometheus = pytest.importorskip("prometheus_client")


def announcement(arch):
    return Announcement("ID", "", "RB", arch, "7.12", "7.16.1")


def sample(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_outcomes_are_counted_by_family_and_cause():
    metrics = StationMetrics()
    for index, (arch, outcome, cause) in enumerate([
            ("arm64", events.Outcome.REBOOTED, None),
            ("arm64", events.Outcome.FAILED, events.FailureCause.STALLED),
            ("mips", events.Outcome.REFUSED, events.FailureCause.FILES_REFUSED)]):
        mac = bytes([2, 0, 0, 0, 0, index])
        metrics(events.Found(0.0, mac, announcement(arch)))
        metrics(events.Finished(1.0, mac, outcome, "why", cause, bytes_acked=100))
    assert sample(metrics, "nitools_installs_total", outcome="rebooted", arch="arm64",
                  cause="none") == 1
    assert sample(metrics, "nitools_installs_total", outcome="failed", arch="arm64",
                  cause="stalled") == 1
    assert sample(metrics, "nitools_installs_total", outcome="refused", arch="mipsbe",
                  cause="files-refused") == 1  # announced "mips": the mipsbe family
    assert sample(metrics, "nitools_bytes_sent_total") == 300


def test_an_architecture_a_stranger_made_up_is_other_so_series_stay_bounded():
    metrics = StationMetrics()
    for index in range(500):
        mac = index.to_bytes(6, "big")
        metrics(events.Found(0.0, mac, announcement(f"made-up-{index}")))
        metrics(events.Finished(1.0, mac, events.Outcome.REFUSED, "no",
                                events.FailureCause.FILES_REFUSED))
    families = {s.labels["arch"] for m in metrics.registry.collect()
                if m.name == "nitools_installs" for s in m.samples}
    assert families == {"other"}
    assert arch_label(" ARM64 ") == "arm64" and arch_label("") == "other"


def test_the_boards_gauge_follows_each_board_through_its_phases():
    metrics = StationMetrics()
    mac = bytes(6)
    metrics(events.Found(0.0, mac, announcement("arm")))
    assert sample(metrics, "nitools_boards", phase="preparing") == 1
    metrics(events.UploadStarted(1.0, mac, 100))
    assert sample(metrics, "nitools_boards", phase="preparing") == 0
    assert sample(metrics, "nitools_boards", phase="uploading") == 1
    metrics(events.Finished(2.0, mac, events.Outcome.REBOOTED, "ok"))
    assert sample(metrics, "nitools_boards", phase="uploading") == 0


def test_held_and_waiting_boards_have_their_own_phase_in_the_gauge():
    metrics = StationMetrics()
    mac = bytes(6)
    metrics(events.Found(0.0, mac, announcement("arm64")))
    metrics(events.Held(0.5, mac))
    assert sample(metrics, "nitools_boards", phase="held") == 1
    assert sample(metrics, "nitools_boards", phase="preparing") == 0
    metrics(events.Offered(1.0, mac))
    metrics(events.FilesAcknowledged(2.0, mac, 100))
    metrics(events.WaitingForReboot(2.0, mac))
    assert sample(metrics, "nitools_boards", phase="held") == 0
    assert sample(metrics, "nitools_boards", phase="waiting") == 1
    metrics(events.Finished(3.0, mac, events.Outcome.SKIPPED, "skipped",
                            events.FailureCause.OPERATOR))
    assert sample(metrics, "nitools_boards", phase="waiting") == 0


@pytest.mark.parametrize("spec", ["", "x", "0", "70000", "host:"])
def test_a_listen_address_is_port_or_addr_port(spec):
    with pytest.raises(UsageError, match=r"\[ADDR:\]PORT"):
        parse_listen(spec)
    assert parse_listen("9420") == ("127.0.0.1", 9420)
    assert parse_listen("0.0.0.0:9420") == ("0.0.0.0", 9420)


def test_boards_in_service_and_silent_boards_are_counted():
    metrics = StationMetrics()
    for index, outcome in enumerate((events.Outcome.VERIFIED, events.Outcome.WRONG_VERSION,
                                     events.Outcome.REBOOTED)):
        mac = bytes([2, 0, 0, 0, 1, index])
        metrics(events.Found(0.0, mac, announcement("arm64")))
        metrics(events.Finished(1.0, mac, events.Outcome.REBOOTED, "ok"))
        metrics(events.InService(30.0, mac, outcome, "what it announced"))
    metrics(events.Silent(90.0, bytes([2, 0, 0, 0, 2, 0]), "never announced",
                          events.FailureCause.NEVER_ANNOUNCED))
    assert sample(metrics, "nitools_installs_total", outcome="rebooted", arch="arm64",
                  cause="none") == 3
    assert sample(metrics, "nitools_installs_total", outcome="verified", arch="arm64",
                  cause="none") == 1
    assert sample(metrics, "nitools_installs_total", outcome="wrong-version", arch="arm64",
                  cause="none") == 1
    assert sample(metrics, "nitools_installs_total", outcome="silent", arch="other",
                  cause="never-announced") == 1
    assert sample(metrics, "nitools_silent_boards_total") == 1
