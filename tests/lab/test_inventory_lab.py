"""Every board its own configuration, over real broadcast between namespaces: an
inventory file with a hostile value, a per-board inventory server (an answer, a 404, a
server that stalls), and --device-mode auto."""

import json
import sqlite3

import pytest

from tests.helpers import free_udp_port, run_cli, write_arm64_releases
from tests.lab.netns import BOARD_IF, FLASHER_IF

pytestmark = pytest.mark.lab
HOSTILE = 'x"; /user add name=evil group=full; :put "'
# `nitools emulate --boards N` (seed 0) announces with these MACs.
MACS = ("02:4e:49:00:00:01", "02:4e:49:00:00:11", "02:4e:49:00:00:21", "02:4e:49:00:00:31")
TEMPLATE = ("/system identity set name={{ hostname }}\n"
            "/ip address add address={{ address }} interface=ether1 "
            "comment=\"{{ mac }} on {{ port }}\"\n")


@pytest.fixture
def files(tmp_path):
    write_arm64_releases(tmp_path, ("7.16.1", "7.22", "7.21.3"), size=300_000)
    (tmp_path / "first-boot.rsc.j2").write_text(TEMPLATE)
    return tmp_path


def journal_rows(path):
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM attempts ORDER BY id")]


def emulate(pair, out, boards, timeout=60):
    return pair.start(pair.board_ns, "emulate", "-i", BOARD_IF, "--boards", str(boards),
                      "--out", str(out), "--timeout", str(timeout), "--format-time", "0.2")


def test_three_listed_boards_get_the_scripts_render_shows_and_the_fourth_is_left_alone(
        netns_pair, files):
    (files / "boards.csv").write_text(
        "mac,hostname,address\n"
        f"{MACS[0]},r1,10.0.0.1/24\n"
        f"{MACS[1].upper().replace(':', '-')},\"{HOSTILE.replace(chr(34), chr(34) * 2)}\","
        "10.0.0.2/24\n"
        f"{MACS[2].replace(':', '')},r3,10.0.0.3/24\n")
    out, journal = files / "received", files / "journal.sqlite3"
    boards = emulate(netns_pair, out, 4)
    station = netns_pair.start(netns_pair.flasher_ns, "flash", "--plain", "--count", "3",
                               "-i", FLASHER_IF, "--journal", str(journal),
                               "--inventory", str(files / "boards.csv"),
                               "--config-template", str(files / "first-boot.rsc.j2"),
                               str(files / "routeros-7.16.1-arm64.npk"))
    _, log = station.communicate(timeout=120)
    assert station.returncode == 0, log
    summary = json.loads(boards.communicate(timeout=120)[0])
    by_mac = {board["macs"][0]: board for board in summary["boards"]}
    for mac in MACS[:3]:
        shown = run_cli("render", "--inventory", str(files / "boards.csv"),
                        "--config-template", str(files / "first-boot.rsc.j2"), "--mac", mac,
                        "--routeros", "7.16.1", "--fact", f"port={FLASHER_IF}")
        assert shown.returncode == 0, shown.stderr
        got = (out / mac.replace(":", "-") / "autorun.scr").read_bytes()
        assert got == shown.stdout.encode(), mac
    hostile = (out / MACS[1].replace(":", "-") / "autorun.scr").read_text().splitlines()
    assert len(hostile) == 2 and hostile[0] == \
        '/system identity set name="x\\"; /user add name=evil group=full; :put \\""'
    assert by_mac[MACS[3]]["offers_seen"] == 0 and not by_mac[MACS[3]]["installed"]
    rows = journal_rows(journal)
    assert sorted(r["outcome"] for r in rows) == ["rebooted"] * 3 + ["refused"]
    (unlisted,) = [r for r in rows if r["answered_mac"] == MACS[3]]
    assert unlisted["cause"] == "not-in-inventory" and unlisted["inventory_key"] is None
    listed = {r["answered_mac"]: r for r in rows if r["outcome"] == "rebooted"}
    assert listed[MACS[1]]["inventory_key"] == f"mac={MACS[1]}"
    assert listed[MACS[1]]["template"] == "first-boot.rsc.j2"
    assert log.count("not in the inventory") == 1


def test_a_per_board_inventory_server_an_answer_a_404_and_a_stall(netns_pair, files):
    rows = {MACS[0]: {"hostname": "from-server", "address": "10.0.1.1/24"},
            MACS[2]: "stall"}  # MACS[1]: 404
    (files / "rows.json").write_text(json.dumps(rows))
    port = free_udp_port()  # a free number; TCP in the station's own namespace
    server = netns_pair.start(netns_pair.flasher_ns, str(port), str(files / "rows.json"),
                              module="tests.lab.inventory_server")
    assert server.stdout.readline().strip() == "ready"
    out, journal = files / "received", files / "journal.sqlite3"
    boards = emulate(netns_pair, out, 3, timeout=60)
    station = netns_pair.start(
        netns_pair.flasher_ns, "flash", "--plain", "--count", "2", "-i", FLASHER_IF,
        "--journal", str(journal), "--config-template", str(files / "first-boot.rsc.j2"),
        "--inventory", f"http://127.0.0.1:{port}/boards/{{mac}}",
        str(files / "routeros-7.16.1-arm64.npk"))
    _, log = station.communicate(timeout=120)
    assert station.returncode == 1, log  # the stalled board counts as refused
    boards.terminate()
    boards.communicate(timeout=30)
    script = (out / MACS[0].replace(":", "-") / "autorun.scr").read_text()
    assert script.startswith("/system identity set name=from-server\n")
    result = {r["answered_mac"]: r for r in journal_rows(journal)}
    assert result[MACS[0]]["outcome"] == "rebooted"
    assert result[MACS[0]]["inventory_key"] == f"mac={MACS[0]}"
    assert result[MACS[1]]["cause"] == "not-in-inventory" and "HTTP 404" in \
        result[MACS[1]]["reason"]
    assert result[MACS[2]]["cause"] == "inventory-unavailable"
    assert "timeout" in result[MACS[2]]["reason"]
    # The stall held one worker, never the station: the answered board finished first.
    assert result[MACS[0]]["ended_at"] < result[MACS[2]]["ended_at"]


@pytest.mark.parametrize(("version", "installed"), [("7.22", True), ("7.21.3", False)])
def test_device_mode_auto_with_container(netns_pair, files, version, installed):
    out = files / "received"
    boards = emulate(netns_pair, out, 1, timeout=30)
    station = netns_pair.start(netns_pair.flasher_ns, "flash", "--plain", "-1", "-e",
                               "-i", FLASHER_IF, "--device-mode", "auto",
                               "--journal", str(files / "journal.sqlite3"),
                               str(files / f"routeros-{version}-arm64.npk"),
                               str(files / f"container-{version}-arm64.npk"))
    _, log = station.communicate(timeout=60)
    if installed:
        assert station.returncode == 0, log
        boards.communicate(timeout=60)
        assert (out / MACS[0].replace(":", "-") / "mode.scr").read_bytes() == \
            b"/system/device-mode update mode=advanced container=yes\n"
    else:  # known at start (issue 29 row 10): one line and exit 2, no board touched
        assert station.returncode == 2, log
        assert "--device-mode auto needs RouterOS 7.22 or newer" in log
        assert "but every board gets 7.21.3" in log
        boards.terminate()
        summary = json.loads(boards.communicate(timeout=30)[0])
        assert summary["boards"][0]["offers_seen"] == 0
