"""Inventories: CSV and JSON files, every MAC spelling, defaults, errors at start, and a
per-board URL served by a real HTTP server (answers, 404, a stalled server)."""

import http.server
import json
import os
import threading
import time
import typing

import pytest

from nitools.errors import UsageError
from nitools.station.plan import inventory as inventory_module
from nitools.station.plan.inventory import (
    InventoryUnavailable,
    NotListed,
    UrlInventory,
    load_inventory,
)
from tests.helpers import http_server

MAC = bytes.fromhex("024e49000001")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("spelling", ["02:4e:49:00:00:01", "02-4E-49-00-00-01",
                                      "024e.4900.0001", "024E49000001", " 02:4E:49:00:00:01 "])
def test_every_common_mac_spelling_finds_the_board(tmp_path, spelling):
    table = load_inventory(write(tmp_path, "b.csv", f"mac,hostname\n{spelling},r1\n"))
    row = table.row_for(MAC, "", "RB5009")
    assert row.key == "mac=02:4e:49:00:00:01" and row.template_values() == {"hostname": "r1"}


def test_csv_rows_by_software_id_and_defaults_by_model_and_star(tmp_path):
    text = ("mac,software_id,model,hostname,ntp,routeros\n"
            "*,,,,pool.ntp.org,7.16.1\n"
            ",,RB5009,,,7.17\n"
            ",ABCD-EFGH,,r2,,\n"
            "02:4e:49:00:00:01,,,r1,10.0.0.1,\n")
    table = load_inventory(write(tmp_path, "b.csv", text))
    by_mac = table.row_for(MAC, "", "hAP")
    assert by_mac.template_values() == {"hostname": "r1", "ntp": "10.0.0.1"}
    assert by_mac.routeros == "7.16.1"  # from the * row
    by_id = table.row_for(bytes(6), "ABCD-EFGH", "RB5009")
    assert by_id.key == "software_id=ABCD-EFGH" and by_id.routeros == "7.17"
    assert by_id.template_values() == {"hostname": "r2", "ntp": "pool.ntp.org"}
    only_model = table.row_for(bytes(6), "ZZZZ-ZZZZ", "RB5009")
    assert only_model.key == "model=RB5009" and only_model.template_values()["hostname"] == ""
    assert table.row_for(bytes(6), "", "hAP").key == "*"


def test_json_rows_keep_their_types_and_null_is_empty(tmp_path):
    text = json.dumps([{"mac": "02:4e:49:00:00:01", "vlans": [10, 20], "poe": True,
                        "packages": ["container", "wifi-qcom"], "note": None}])
    row = load_inventory(write(tmp_path, "b.json", text)).row_for(MAC, "", "")
    assert row.template_values() == {"vlans": [10, 20], "poe": True, "note": ""}
    assert row.packages == ("container", "wifi-qcom")


def test_a_board_with_no_row_is_not_listed(tmp_path):
    table = load_inventory(write(tmp_path, "b.csv", "mac,x\n02:4e:49:00:00:02,1\n"))
    with pytest.raises(NotListed, match=r"not in the inventory b\.csv"):
        table.row_for(MAC, "ABCD-EFGH", "RB5009")


def test_two_rows_naming_one_board_refuse_it(tmp_path):
    table = load_inventory(write(tmp_path, "b.csv", "mac,software_id\n"
                                 "02:4e:49:00:00:01,\n,ABCD-EFGH\n"))
    with pytest.raises(NotListed, match="two inventory rows"):
        table.row_for(MAC, "ABCD-EFGH", "")


@pytest.mark.parametrize(("name", "text", "message"), [
    ("b.csv", "mac,x\n02:4e:49:00:00:01,1\n02-4E-49-00-00-01,2\n", "b.csv line 3: MAC .* also"),
    ("b.csv", "mac,software_id,x\n,,1\n", "line 2: the row names no board"),
    ("b.csv", "mac,x\nzz:zz,1\n", "line 2: 'zz:zz' is not a MAC address"),
    ("b.csv", "mac,x\n02:4e:49:00:00:01,1,2\n", "3 cells for 2 columns"),
    ("b.csv", "mac,ip address\n02:4e:49:00:00:01,1\n", "'ip address' is not a name"),
    ("b.csv", "hostname,x\nr1,1\n", "no mac, software_id or model column"),
    ("b.csv", "mac,mac\n1,2\n", "column mac twice"),
    ("b.csv", "", "is empty"),
    ("b.csv", "mac,x\n*,1\n*,2\n", "a second '\\*' row"),
    ("b.csv", "mac,config_mode\n02:4e:49:00:00:01,kept\n", "config_mode=kept is not one"),
    ("b.csv", "mac,packages\n02:4e:49:00:00:01,../x\n", "not a package name"),
    ("b.csv", "mac,hold\n02:4e:49:00:00:01,perhaps\n", "line 2: hold=perhaps is neither"),
    ("b.csv", "mac,after_install\n02:4e:49:00:00:01,halt\n",
     "line 2: after_install=halt is not one of reboot, wait"),
    ("b.json", '{"mac": "x"}', "expected a list of objects"),
    ("b.json", "[1]", "row 1: expected an object"),
    ("b.json", "[{", "not valid JSON"),
])
def test_broken_inventories_are_one_line_errors_at_start(tmp_path, name, text, message):
    with pytest.raises(UsageError, match=message):
        load_inventory(write(tmp_path, name, text))


def test_unreadable_inventories(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_inventory(str(tmp_path / "missing.csv"))
    with pytest.raises(UsageError, match="is a directory"):
        load_inventory(str(tmp_path))
    os.mkfifo(tmp_path / "fifo.csv")  # never read: it would hang the start
    with pytest.raises(UsageError, match="not a regular file"):
        load_inventory(str(tmp_path / "fifo.csv"))
    (tmp_path / "latin1.csv").write_bytes(b"mac,x\n02:4e:49:00:00:01,M\xfcnchen\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_inventory(str(tmp_path / "latin1.csv"))


def test_a_spreadsheet_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    (tmp_path / "b.csv").write_bytes(b"\xef\xbb\xbfmac,x\n02:4e:49:00:00:01,1\n")
    assert load_inventory(str(tmp_path / "b.csv")).row_for(MAC, "", "").key.startswith("mac=")


def test_file_columns_are_beside_the_inventory_file(tmp_path):
    table = load_inventory(write(tmp_path, "b.csv", "mac,template\n02:4e:49:00:00:01,t.j2\n"))
    assert table.row_for(MAC, "", "").path("template") == str(tmp_path / "t.j2")


# ----------------------------------------------------------- inventories on a server

class Answers(http.server.BaseHTTPRequestHandler):
    """/boards/MAC: the board's JSON; MACs ending in :99 stall; unknown ones 404."""

    rows: typing.ClassVar[dict] = {}
    raw: typing.ClassVar[dict] = {}
    asked: typing.ClassVar[list] = []
    authorization: typing.ClassVar[list] = []
    stall = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        mac = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/drip/"):  # headers one byte at a time, for ever
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 10_000:
                if self.stall.is_set():
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
            return
        if self.path.startswith("/away/"):
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:9/boards/" + mac)
            self.end_headers()
            return
        if self.path.startswith("/moved/"):
            self.send_response(301)
            self.send_header("Location", "/boards/" + mac)
            self.end_headers()
            return
        if mac.endswith("99"):
            self.stall.wait(30)  # a server that took the request and never answers
            return
        Answers.asked.append(self.path)
        Answers.authorization.append(self.headers.get("Authorization"))
        if mac in self.raw:
            body = self.raw[mac]
        elif mac not in self.rows:
            self.send_error(404)
            return
        else:
            body = json.dumps(self.rows[mac]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    Answers.rows = {
        "02:4e:49:00:00:01": {"hostname": "r1", "mac": "02:4E:49:00:00:01"},
        "02:4e:49:00:00:02": {"results": [{"name": "netbox-style", "custom_fields": {"a": 1}}]},
        "02:4e:49:00:00:03": {"mac": "02:4e:49:00:00:04", "hostname": "someone else"},
        "02:4e:49:00:00:05": {"hostname": "x", "template": "/etc/passwd"},
        "02:4e:49:00:00:06": [{"a": 1}, {"a": 2}],
        "02:4e:49:00:00:07": {"hostname": "x", "range": "not the template's range"},
        "02:4e:49:00:00:08": {"hostname": "x", "bad-name": 1},
        "ABCD-EFGH": {"hostname": "by id"},
        "02:4e:49:00:00:0b": {"hostname": "x", "routeros": "7.22", "packages": "container"},
        "02:4e:49:00:00:0c": {"hostname": "x", "config_mode": "empty"},
    }
    Answers.raw = {"02:4e:49:00:00:0a": b"[" * 30_000 + b"]" * 30_000}
    Answers.stall.clear()
    with http_server(handler=Answers) as url:
        yield url
    Answers.stall.set()


def test_a_per_board_url_is_asked_once_per_board(server, monkeypatch):
    inventory = load_inventory(server + "/boards/{mac}")
    assert isinstance(inventory, UrlInventory)
    row = inventory.row_for(MAC, "ABCD-EFGH", "RB5009")
    assert row.key == "mac=02:4e:49:00:00:01" and row.template_values()["hostname"] == "r1"
    asked = []
    monkeypatch.setattr(inventory, "_ask", lambda *a: asked.append(a))
    assert inventory.row_for(MAC, "ABCD-EFGH", "RB5009") is row and not asked


def test_netbox_results_404_another_board_and_file_columns(server):
    inventory = load_inventory(server + "/boards/{mac}")
    netbox = inventory.row_for(bytes.fromhex("024e49000002"), "", "")
    assert netbox.template_values()["custom_fields"] == {"a": 1}
    with pytest.raises(NotListed, match="HTTP 404"):
        inventory.row_for(bytes.fromhex("024e49000009"), "", "")
    with pytest.raises(NotListed, match="row of another board"):
        inventory.row_for(bytes.fromhex("024e49000003"), "", "")
    with pytest.raises(InventoryUnavailable, match="cannot name files of this station"):
        inventory.row_for(bytes.fromhex("024e49000005"), "", "")
    with pytest.raises(InventoryUnavailable, match="2 rows for one board"):
        inventory.row_for(bytes.fromhex("024e49000006"), "", "")


def test_url_answers_are_held_to_the_rules_of_columns_and_json(server):
    """Issue 27 row 18: column names in URL answers were not checked ('range' hid the
    template's own), and deeply nested JSON raised a RecursionError."""
    inventory = load_inventory(server + "/boards/{mac}")
    with pytest.raises(InventoryUnavailable, match="would hide the template's own 'range'"):
        inventory.row_for(bytes.fromhex("024e49000007"), "", "")
    with pytest.raises(InventoryUnavailable, match="'bad-name' is not a name"):
        inventory.row_for(bytes.fromhex("024e49000008"), "", "")
    with pytest.raises(InventoryUnavailable, match="did not answer JSON"):
        inventory.row_for(bytes.fromhex("024e4900000a"), "", "")


def test_a_url_chooses_no_release_and_skips_no_template_unless_allowed(server):
    """Issue 27 row 11: a URL inventory's answer installed another release with other
    packages and an empty configuration, the operator's template skipped."""
    release_row, empty_row = bytes.fromhex("024e4900000b"), bytes.fromhex("024e4900000c")
    strict = load_inventory(server + "/boards/{mac}", template=True)
    with pytest.raises(InventoryUnavailable, match="sets routeros only when "
                                                   "--inventory-settings names it"):
        strict.row_for(release_row, "", "")
    with pytest.raises(InventoryUnavailable, match="config_mode only when"):
        strict.row_for(empty_row, "", "")
    allowed = load_inventory(server + "/boards/{mac}",
                             frozenset({"routeros", "packages", "config_mode"}), template=True)
    assert allowed.row_for(release_row, "", "").routeros == "7.22"
    with pytest.raises(InventoryUnavailable, match="would skip the station's first-boot "
                                                   "template"):
        allowed.row_for(empty_row, "", "")


def test_answers_kept_for_the_run_are_bounded_in_bytes(server, monkeypatch):
    """Issue 27 row 12: 3,000 forged boards against a server answering 128 KiB rows took
    the station from 38 to 313 MB, never given back."""
    monkeypatch.setattr(inventory_module, "KEPT_ANSWER_BYTES", 100_000)
    big = {"hostname": "x", "notes": "n" * 30_000}
    for index in range(20):
        Answers.rows[f"02:4e:49:00:01:{index:02x}"] = big
    inventory = load_inventory(server + "/boards/{mac}")
    for index in range(20):
        inventory.row_for(bytes.fromhex(f"024e490001{index:02x}"), "", "")
    assert inventory._kept_bytes <= 100_000 and len(inventory._answers) == 3
    Answers.asked.clear()
    inventory.row_for(bytes.fromhex("024e49000113"), "", "")  # the newest is still kept
    inventory.row_for(bytes.fromhex("024e49000100"), "", "")  # the oldest was let go
    assert Answers.asked == ["/boards/02:4e:49:00:01:00"]


def test_a_row_larger_than_a_board_needs_is_refused(server):
    Answers.rows["02:4e:49:00:00:0d"] = {"hostname": "x", "notes": "n" * 70_000}
    with pytest.raises(InventoryUnavailable, match="could not be asked"):
        load_inventory(server + "/boards/{mac}").row_for(bytes.fromhex("024e4900000d"), "", "")


def test_a_token_is_sent_as_a_header_and_no_secret_of_a_url_is_ever_shown(server):
    """Issue 27 row 13: http://user:pass@... and ?token= appeared in the log, refused
    boards' reasons, the journal and the web view."""
    Answers.authorization.clear()
    inventory = load_inventory(server + "/boards/{mac}", token="t0ken")
    inventory.row_for(MAC, "", "")
    assert Answers.authorization == ["Bearer t0ken"]
    netbox = load_inventory(server + "/boards/{mac}", token="Token 0123abcd")
    netbox.row_for(MAC, "", "")
    assert Answers.authorization[-1] == "Token 0123abcd"
    secret = server.replace("http://", "http://admin:pa55word@") + "/boards/{mac}?key=k3y"
    hidden = load_inventory(secret)
    assert "pa55word" not in hidden.source and "k3y" not in hidden.source
    with pytest.raises(NotListed) as caught:
        hidden.row_for(bytes.fromhex("024e49000009"), "", "")  # HTTP 404
    assert "pa55word" not in str(caught.value) and "k3y" not in str(caught.value)
    assert "://***@" in str(caught.value) and "key=***" in str(caught.value)


def test_a_server_dripping_its_headers_refuses_the_board_in_bounded_time(server,
                                                                        monkeypatch):
    """Issue 27 row 9: the 15 s limit bounded only the body; headers one byte per 4 s
    held a worker for ever."""
    monkeypatch.setattr(inventory_module, "URL_TOTAL", 1.5)
    inventory = load_inventory(server + "/drip/{mac}")
    started = time.monotonic()
    with pytest.raises(InventoryUnavailable, match=r"did not answer within 1\.5 s"):
        inventory.row_for(MAC, "", "")
    assert time.monotonic() - started < 3.0


def test_redirects_are_followed_to_the_same_server_only(server):
    assert load_inventory(server + "/moved/{mac}").row_for(MAC, "", "").text("hostname") == "r1"
    with pytest.raises(InventoryUnavailable, match="redirects to another server"):
        load_inventory(server + "/away/{mac}").row_for(MAC, "", "")


def test_lookups_waiting_on_a_server_never_take_every_worker(server, monkeypatch):
    monkeypatch.setattr(inventory_module, "URL_TOTAL", 0.5)
    monkeypatch.setattr(inventory_module, "LOOKUPS", 1)
    monkeypatch.setattr(inventory_module, "_LOOKUPS", threading.BoundedSemaphore(1))
    dripping = load_inventory(server + "/drip/{mac}")
    with pytest.raises(InventoryUnavailable, match="did not answer"):
        dripping.row_for(MAC, "", "")  # its lookup still waits on the server
    with pytest.raises(InventoryUnavailable, match="1 lookups are still waiting"):
        load_inventory(server + "/boards/{mac}").row_for(MAC, "", "")


def test_a_software_id_that_is_no_software_id_is_never_put_in_a_url(server):
    """Issue 27 row 18: a software ID '..' made {software_id} reach another resource."""
    inventory = load_inventory(server + "/boards/{software_id}")
    assert inventory.row_for(MAC, "ABCD-EFGH", "").template_values()["hostname"] == "by id"
    Answers.asked.clear()
    for forged in ("..", "../api", "a/b", "x?y=1"):
        with pytest.raises(NotListed, match="not the shape"):
            inventory.row_for(MAC, forged, "")
    assert Answers.asked == []


def test_a_file_inventory_nested_too_deeply_is_one_line_error(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UsageError, match="nested too deeply"):
        load_inventory(str(tmp_path / "deep.json"))


def test_a_stalled_server_refuses_the_board_in_bounded_time_and_is_asked_again(server,
                                                                                monkeypatch):
    monkeypatch.setattr(inventory_module, "URL_TIMEOUT", (1.0, 1.0))
    inventory = load_inventory(server + "/boards/{mac}")
    stalled = bytes.fromhex("024e49000099")
    with pytest.raises(InventoryUnavailable, match="timeout"):
        inventory.row_for(stalled, "", "")
    Answers.rows["02:4e:49:00:00:99"] = {"hostname": "late"}
    with pytest.raises(InventoryUnavailable):  # not remembered: asked again, still stalled
        inventory.row_for(stalled, "", "")


def test_a_list_url_is_read_at_start(tmp_path):
    (tmp_path / "boards.json").write_text(json.dumps([{"mac": "02:4e:49:00:00:01", "x": 1}]))
    with http_server(tmp_path) as url:
        table = load_inventory(url + "/boards.json")
        with pytest.raises(UsageError, match="HTTP 404"):
            load_inventory(url + "/missing.json")
    assert table.row_for(MAC, "", "").template_values() == {"x": 1}


def test_hold_and_after_install_are_settings_of_a_row_not_template_values(tmp_path):
    table = load_inventory(write(tmp_path, "b.csv", "mac,hold,after_install,hostname\n"
                                 "*,no,,\n02:4e:49:00:00:01,yes,wait,core-1\n"))
    row = table.row_for(MAC, "", "RB5009")
    assert (row.hold, row.after_install) == (True, "wait")
    assert row.template_values() == {"hostname": "core-1"}
    other = table.row_for(bytes.fromhex("024e49000002"), "", "RB5009")
    assert (other.hold, other.after_install) == (False, None)


def test_spreadsheet_exports_with_semicolons_and_capitalised_headers(tmp_path):
    """Issue 29 row 9: a semicolon export (Excel in DE/FR/NL) and a header `MAC,Hostname`
    both said "the first row must name the columns"."""
    for text in ("MAC;Hostname;address\n02:4E:49:00:00:01;core-1;10.0.0.1/24\n",
                 "MAC,Hostname,address\n02:4E:49:00:00:01,core-1,10.0.0.1/24\n",
                 "Mac\tHostname\taddress\n02:4E:49:00:00:01\tcore-1\t10.0.0.1/24\n"):
        row = load_inventory(write(tmp_path, "b.csv", text)).row_for(MAC, "", "RB5009")
        assert row.template_values() == {"Hostname": "core-1", "address": "10.0.0.1/24"}
    with pytest.raises(UsageError, match=r"line 1: no mac, software_id or model column "
                       r"\(found: hostname, address\)"):
        load_inventory(write(tmp_path, "b.csv", "hostname,address\nr1,10.0.0.1\n"))
    with pytest.raises(UsageError, match="line 1: column 'host name' is not a name"):
        load_inventory(write(tmp_path, "b.csv", "mac,host name\n02:4e:49:00:00:01,r1\n"))
