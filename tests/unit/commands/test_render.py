"""``nitools render`` and ``history --script``: the script a board would get is the one it
got, byte for byte (flash against emulated boards over loopback)."""

import hashlib

import pytest

from nitools.emulation.synthetic import build_npk
from tests.helpers import loopback_boards, run_cli

HOSTILE = 'x"; /user add name=evil group=full; :put "'
# loopback_boards' first three MACs (seed 3); the third is left out of the inventory.
MACS = ("02:4e:49:00:30:01", "02:4e:49:00:30:11", "02:4e:49:00:30:21")


@pytest.fixture
def station(tmp_path):
    (tmp_path / "routeros-7.16.1-arm64.npk").write_bytes(
        build_npk("system", "7.16.1", "arm64", size=60_000, seed=1))
    (tmp_path / "boards.csv").write_text(
        "mac,hostname,address\n"
        f"{MACS[0].upper()},r1,10.0.0.1/24\n"
        f"{MACS[1].replace(':', '')},\"{HOSTILE.replace(chr(34), chr(34) * 2)}\",10.0.0.2/24\n")
    (tmp_path / "first-boot.rsc.j2").write_text(
        "/system identity set name={{ hostname }}\n"
        "/ip address add address={{ address }} interface=ether1 comment=\"{{ mac }} "
        "{{ routeros }}\"\n")
    return tmp_path


def render(station, *args):
    return run_cli("render", "--inventory", str(station / "boards.csv"), "--config-template",
                   str(station / "first-boot.rsc.j2"), *args)


def test_each_listed_board_gets_what_render_shows_and_the_unlisted_one_is_left_alone(
        station):
    journal = station / "journal.sqlite3"
    with loopback_boards(count=3) as boards:
        result = run_cli("flash", "--count", "2", "--plain", "--journal", str(journal),
                         "--inventory", str(station / "boards.csv"), "--config-template",
                         str(station / "first-boot.rsc.j2"), "--loopback", boards.loopback_arg,
                         str(station / "routeros-7.16.1-arm64.npk"))
        summary = boards.emulator.summary()
    assert result.returncode == 0, result.stderr
    got = {board["macs"][0]: board for board in summary["boards"]}
    for mac in MACS[:2]:
        shown = render(station, "--mac", mac, "--routeros", "7.16.1")
        assert shown.returncode == 0, shown.stderr
        script = next(f for f in got[mac]["files"] if f["name"] == "autorun.scr")
        assert script["sha256"] == hashlib.sha256(shown.stdout.encode()).hexdigest()
        kept = run_cli("history", "--journal", str(journal), "--mac", mac, "--script")
        assert kept.returncode == 0 and kept.stdout == shown.stdout
        assert "from template first-boot.rsc.j2, inventory row mac=" in kept.stderr
    hostile = render(station, "--mac", MACS[1], "--routeros", "7.16.1").stdout
    assert hostile.splitlines()[0] == \
        '/system identity set name="x\\"; /user add name=evil group=full; :put \\""'
    assert got[MACS[2]]["offers_seen"] == 0
    rows = run_cli("history", "--journal", str(journal), "--mac", MACS[2], "--csv").stdout
    assert rows.count("\n") == 2 and ",refused," in rows and "not-in-inventory" in rows
    assert result.stderr.count("not in the inventory boards.csv") == 1


def test_render_all_writes_one_file_per_board_and_reports_the_ones_that_fail(station,
                                                                            tmp_path):
    (station / "boards.csv").write_text(
        "mac,hostname,address,config_mode\n"
        "02:4e:49:00:30:01,r1,10.0.0.1/24,\n"
        "02:4e:49:00:30:11,\"bell\x07\",10.0.0.2/24,\n"
        "02:4e:49:00:30:21,r3,10.0.0.3/24,keep\n")
    out = tmp_path / "scripts"
    result = render(station, "--all", "-o", str(out), "--routeros", "7.16.1")
    assert result.returncode == 1
    assert "02:4e:49:00:30:21: boards.csv line 4 says config_mode=keep" in result.stderr
    assert "2 scripts written" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["02-4e-49-00-30-01.rsc",
                                                     "02-4e-49-00-30-11.rsc"]
    assert (out / "02-4e-49-00-30-11.rsc").read_text().startswith(
        '/system identity set name="bell\\07"')


def test_render_names_the_fact_it_lacks_and_boards_it_does_not_know(station):
    result = render(station, "--mac", MACS[0])
    assert result.returncode == 1 and "give --routeros VERSION" in result.stderr
    result = render(station, "--mac", MACS[2], "--routeros", "7.16.1")
    assert result.returncode == 1 and "not in the inventory" in result.stderr
    result = render(station, "--mac", MACS[0], "--fact", "colour=red")
    assert result.returncode == 2 and "NAME one of mac, macs" in result.stderr
    assert "Traceback" not in result.stderr


def test_history_script_needs_one_board(tmp_path):
    (tmp_path / "j.sqlite3").write_bytes(b"")
    result = run_cli("history", "--journal", str(tmp_path / "j.sqlite3"), "--script")
    assert result.returncode == 2 and "give --mac or --software-id" in result.stderr


def test_a_software_id_that_is_a_path_is_refused_at_load_and_nothing_is_written(tmp_path):
    """Issue 27 row 1: 'render --all -o DIR' wrote a row's software ID as a path."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "first-boot.rsc").write_text("# theirs\n")
    out = tmp_path / "review"
    (tmp_path / "boards.csv").write_text(
        "software_id,hostname\nABCD-EFGH,r1\n/../../victim/first-boot,r2\n")
    (tmp_path / "t.rsc.j2").write_text("/system identity set name={{ hostname }}\n")
    result = run_cli("render", "--inventory", str(tmp_path / "boards.csv"),
                     "--config-template", str(tmp_path / "t.rsc.j2"), "--all",
                     "-o", str(out))
    assert result.returncode == 2
    assert "boards.csv line 3: software_id '/../../victim/first-boot' is not a software " \
        "ID" in result.stderr
    assert (victim / "first-boot.rsc").read_text() == "# theirs\n"
    assert not out.exists()


def test_a_software_id_given_on_the_command_line_is_no_path_either(tmp_path):
    (tmp_path / "boards.csv").write_text("software_id,hostname\nABCD-EFGH,r1\n")
    (tmp_path / "t.rsc.j2").write_text("/system identity set name={{ hostname }}\n")
    result = run_cli("render", "--inventory", str(tmp_path / "boards.csv"),
                     "--config-template", str(tmp_path / "t.rsc.j2"),
                     "--software-id", "../ABCD-EFGH")
    assert result.returncode == 2 and "--software-id '../ABCD-EFGH'" in result.stderr


def test_every_file_render_writes_stays_in_its_folder(tmp_path):
    from nitools.commands.render import _inside
    from nitools.errors import UsageError

    assert _inside(tmp_path, "software-id-ABCD-EFGH.rsc") == \
        (tmp_path / "software-id-ABCD-EFGH.rsc").resolve()
    for name in ("../x.rsc", "a/../../x.rsc", "/etc/x.rsc", "sub/x.rsc"):
        with pytest.raises(UsageError, match="outside"):
            _inside(tmp_path, name)


def test_render_shows_the_linters_warnings_the_station_would_log(station):
    """Issue 29 row 14: render showed no warning; the station wrote the line number next
    to the MAC ('first-boot.rsc.j2 for 02:4e:49:00:30:01:2')."""
    result = render(station, "--mac", MACS[0], "--routeros", "7.16.1")
    assert result.returncode == 0, result.stderr
    assert (f"{MACS[0]}: warning: first-boot.rsc.j2:2: uses ether1 before waiting for "
            "interfaces") in result.stderr
    with loopback_boards() as boards:
        flashed = run_cli("flash", "-1", "--plain", "--loopback", boards.loopback_arg,
                          "--inventory", str(station / "boards.csv"), "--config-template",
                          str(station / "first-boot.rsc.j2"),
                          str(station / "routeros-7.16.1-arm64.npk"))
    assert f"first-boot.rsc.j2 (for {MACS[0]}):2: uses ether1" in flashed.stderr, \
        flashed.stderr


def test_the_inventory_pages_render_command_runs_as_printed(tmp_path):
    """Issue 29 row 1: docs/inventory.md's template looped over a `vlans` column that
    neither documented CSV had, so the documented render commands failed."""
    import re
    import subprocess
    import sys

    from tests.helpers import REPO

    page = (REPO / "docs" / "inventory.md").read_text()
    (tmp_path / "boards.csv").write_text(re.search(r"```csv\n(.*?)```", page, re.S)[1])
    (tmp_path / "first-boot.rsc.j2").write_text(re.search(r"```jinja\n(.*?)```", page,
                                                          re.S)[1])
    command = re.search(r"```sh\n(nitools render [^\n]*)\n", page)[1]
    done = subprocess.run(command.replace("nitools", f"{sys.executable} -m nitools", 1),
                          shell=True, cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0, done.stderr
    (core,) = [path.read_text() for path in (tmp_path / "review").iterdir()
               if "name=core-1" in path.read_text()]
    assert "/interface vlan add name=vlan10 vlan-id=10 interface=ether1\n" in core
    assert "/interface vlan add name=vlan20 vlan-id=20 interface=ether1\n" in core
    assert "2 scripts written" in done.stderr and "warning" not in done.stderr


def test_render_and_the_station_agree_that_a_rows_version_wins(station):
    """Issue 29 row 5: render showed --routeros 7.16.1 for a row saying routeros=7.15.3,
    which the station installs."""
    (station / "boards.csv").write_text(f"mac,hostname,address,routeros\n"
                                        f"{MACS[0]},r1,10.0.0.1/24,7.15.3\n")
    shown = render(station, "--mac", MACS[0], "--routeros", "7.16.1")
    assert shown.returncode == 0, shown.stderr
    assert 'comment="02:4e:49:00:30:01 7.15.3"' in shown.stdout
    assert "boards.csv line 2 installs RouterOS 7.15.3, not --routeros 7.16.1: the row " \
           "wins, as on the station" in shown.stderr


def test_render_names_every_missing_fact_at_once_and_takes_facts_per_board(station):
    """Issue 29 row 7: one missing fact per run (five runs to learn them), and --fact for
    every board alike (a mixed line rendered one model for all)."""
    (station / "facts.rsc.j2").write_text(
        "/system note set note=\"{{ arch }} {{ model }} {{ port }} {{ station }}\"\n")
    (station / "boards.csv").write_text(f"mac,arch,model\n{MACS[0]},arm64,RB5009\n"
                                        f"{MACS[1]},mipsbe,\n")
    args = ("--inventory", str(station / "boards.csv"), "--config-template",
            str(station / "facts.rsc.j2"))
    missing = run_cli("render", *args, "--mac", MACS[1])
    assert missing.returncode == 1
    assert (f"facts.rsc.j2 uses the board facts 'model', 'station', 'port', which render "
            f"does not know for {MACS[1]}: give --fact model=... --fact station=... --fact "
            f"port=... (NAME@{MACS[1]}=VALUE for this board alone)") in missing.stderr
    given = run_cli("render", *args, "--mac", MACS[0], "--mac", MACS[1], "--fact",
                    "port=ether1", "--fact", f"port@{MACS[1]}=ether5", "--fact",
                    f"model@{MACS[1].upper()}=hEX", "--station-name", "line-1")
    assert given.returncode == 0, given.stderr
    assert given.stdout.splitlines() == [
        '/system note set note="arm64 RB5009 ether1 line-1"',  # arch and model: its row
        '/system note set note="mipsbe hEX ether5 line-1"']
    bad = run_cli("render", *args, "--mac", MACS[0], "--fact", "port@nope!=x")
    assert bad.returncode == 2 and "'nope!' is neither a MAC nor a software ID" in bad.stderr


def test_render_asks_a_per_board_url_inventory_for_the_board_given(station):
    """Issue 29 row 6: render --mac refused a per-board URL inventory ({mac}), though the
    MAC was at hand."""
    import http.server
    import json as jsonlib

    from tests.helpers import http_server

    asked = []

    class Rows(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            asked.append(self.path)
            body = jsonlib.dumps({"mac": MACS[0], "hostname": "from-url",
                                  "address": "10.9.9.9/24"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with http_server(handler=Rows) as url:
        shown = run_cli("render", "--inventory", url + "/boards/{mac}", "--config-template",
                        str(station / "first-boot.rsc.j2"), "--mac", MACS[0], "--routeros",
                        "7.16.1")
        every = run_cli("render", "--inventory", url + "/boards/{mac}", "--config-template",
                        str(station / "first-boot.rsc.j2"), "--all", "-o",
                        str(station / "out"))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("/system identity set name=from-url\n")
    assert asked == [f"/boards/{MACS[0]}"]  # once
    assert every.returncode == 2 and "give --mac or --software-id" in every.stderr
