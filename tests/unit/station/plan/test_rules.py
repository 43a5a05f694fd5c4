"""Per-board rules in the preparation of a board: inventory rows, templates, unlisted
boards, --device-mode, and the order plugin > inventory row > station options."""

import pytest

from nitools.errors import UsageError
from nitools.fetch.package_cache import PackageCache
from nitools.fetch.releases import ReleaseChoice, ReleaseFiles, ReleasePlugin
from nitools.netinstall.events import FailureCause
from nitools.station.engine.contract import ConfigMode, Refusal
from nitools.station.plan.first_boot import FirstBootTemplate
from nitools.station.plan.inventory import InventoryRow
from nitools.station.plan.payload import PayloadCache
from nitools.station.plan.prepare import prepare_or_refuse
from nitools.station.plan.rules import BoardRules, board_rules
from nitools.station.setup.config import InstallDefaults
from tests.helpers import board_request, write_arm64_releases

MAC = bytes.fromhex("024e49000001")
BOARD = board_request(MAC, software_id="ABCD-EFGH", image_version="7.16.1", port="eth1")
OTHER = board_request(bytes.fromhex("024e490000ff"), software_id="ZZZZ-ZZZZ", port="eth1",
                      image_version="7.16.1")
TEMPLATE = '/system identity set name="{{ hostname }}"\n:put "{{ routeros }} {{ mac }}"\n'


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "packages").mkdir()
    write_arm64_releases(tmp_path / "packages", ("7.21.3", "7.22"), size=20_000)
    (tmp_path / "t.rsc.j2").write_text(TEMPLATE)
    return tmp_path


def releases(folder, routeros="7.22", packages=()):
    files = ReleaseFiles(ReleaseChoice(routeros=routeros, packages=packages,
                                       packages_dir=str(folder / "packages")),
                         PackageCache(folder / "cache"))
    files.start()
    return files


def inventory(folder, text):
    path = folder / "boards.csv"
    path.write_text(text)
    return str(path)


def prepare(folder, rules, board=BOARD, files=None, defaults=None, plugin=None):
    """prepare_or_refuse as a station worker calls it, for a board on port eth1."""
    files = files or releases(folder)
    defaults = defaults or InstallDefaults()
    return prepare_or_refuse(plugin or ReleasePlugin(files), board, defaults, PayloadCache(),
                             files, rules)


def test_each_board_gets_its_own_script_with_its_facts(folder):
    rules = board_rules(inventory(folder, "mac,hostname\n02:4e:49:00:00:01,r1\n"),
                        str(folder / "t.rsc.j2"), None, None, "lab")
    plan = prepare(folder, rules)
    assert plan.config_mode.value == "script" and plan.inventory_key == "mac=02:4e:49:00:00:01"
    assert plan.template == "t.rsc.j2"
    assert plan.script == b'/system identity set name="r1"\n:put "7.22 02:4e:49:00:00:01"\n'


def test_a_board_the_inventory_does_not_list_is_refused_for_the_run(folder):
    rules = board_rules(inventory(folder, "mac,hostname\n02:4e:49:00:00:01,r1\n"),
                        str(folder / "t.rsc.j2"), None, None)
    refusal = prepare(folder, rules, OTHER)
    assert isinstance(refusal, Refusal) and refusal.cause is FailureCause.NOT_IN_INVENTORY
    assert "not in the inventory boards.csv (MAC 02:4e:49:00:00:ff" in refusal.reason


def test_unlisted_default_installs_with_the_station_settings(folder):
    rules = board_rules(inventory(folder, "mac,hostname\n02:4e:49:00:00:01,r1\n"),
                        None, "default", None)
    plan = prepare(folder, rules, OTHER)
    assert plan.config_mode.value == "default" and plan.inventory_key is None


def test_a_row_chooses_version_packages_and_config_mode(folder):
    rules = board_rules(inventory(folder, "mac,routeros,packages,config_mode,hostname\n"
                                  "02:4e:49:00:00:01,7.21.3,container,script,r1\n"
                                  "02:4e:49:00:00:ff,,,keep,\n"),
                        str(folder / "t.rsc.j2"), None, None)
    plan = prepare(folder, rules)
    assert [(p.name, str(p.version)) for p in plan.packages] == [("system", "7.21.3"),
                                                                  ("container", "7.21.3")]
    assert b'"7.21.3 ' in plan.script
    assert [str(f) for f in plan.findings if "older" in str(f)] == [
        "boards.csv line 2 installs RouterOS 7.21.3, older than the station's 7.22"]
    kept = prepare(folder, rules, OTHER)
    assert kept.keep and kept.script is None and str(kept.packages[0].version) == "7.22"


def test_a_value_that_cannot_be_made_safe_refuses_the_board(folder):
    (folder / "raw.j2").write_text("/system identity set name={{ hostname|raw }}\n")
    (folder / "boards.csv").write_text('mac,hostname\n02:4e:49:00:00:01,"a\nb"\n')
    rules = board_rules(str(folder / "boards.csv"), str(folder / "raw.j2"), None, None)
    refusal = prepare(folder, rules)
    assert isinstance(refusal, Refusal) and "first-boot script cannot be made" in refusal.reason
    assert "one line" in refusal.reason


def test_a_rendered_script_that_fails_the_linter_refuses_the_board(folder):
    # A backslash and a blank mid-line: meant as a continuation, it is none
    (folder / "bad.j2").write_text('/system identity set name={{ hostname }} \\ comment=x\n')
    rules = board_rules(inventory(folder, "mac,hostname\n02:4e:49:00:00:01,r1\n"),
                        str(folder / "bad.j2"), None, None)
    refusal = prepare(folder, rules)
    assert isinstance(refusal, Refusal) and "backslash outside a string" in refusal.reason


def test_device_mode_auto_for_container_on_7_22_and_a_refusal_on_7_21(folder):
    rules = board_rules(None, None, None, "auto")
    plan = prepare(folder, rules, files=releases(folder, "7.22", ("container",)))
    mode = next(f for f in plan.files if f.name == "mode.scr")
    assert mode.data == b"/system/device-mode update mode=advanced container=yes\n"
    refusal = prepare(folder, rules, files=releases(folder, "7.21.3", ("container",)))
    assert isinstance(refusal, Refusal) and "from RouterOS 7.22 on" in refusal.reason


def test_device_mode_auto_gives_way_to_a_given_mode_script(folder):
    (folder / "mode.rsc").write_text("/system/device-mode update container=yes\n")
    plan = prepare(folder, board_rules(None, None, None, "auto"),
                   files=releases(folder, "7.22", ("container",)),
                   defaults=InstallDefaults(mode_script=str(folder / "mode.rsc")))
    assert next(f for f in plan.files if f.name == "mode.scr").data == \
        (folder / "mode.rsc").read_bytes()


def test_a_plugin_that_returns_a_config_wins_over_the_inventory(folder):
    files = releases(folder)

    class Plugin:
        def get_files(self, info):
            return (*files.files(info.arch, info.min_os, info.mac_text),
                    b"/system identity set name=from-plugin\n")

    rules = board_rules(inventory(folder, "mac,hostname\n02:4e:49:00:00:01,r1\n"),
                        str(folder / "t.rsc.j2"), None, None)
    plan = prepare(folder, rules, files=files, plugin=Plugin())
    assert plan.script == b"/system identity set name=from-plugin\n" and plan.template is None
    assert plan.inventory_key == "mac=02:4e:49:00:00:01"


def test_a_row_naming_packages_for_a_custom_plugin_refuses_the_board(folder):
    files = releases(folder)

    class Plugin:
        def get_files(self, info):
            return (*files.files(info.arch, info.min_os, info.mac_text), None)

    rules = board_rules(inventory(folder, "mac,routeros\n02:4e:49:00:00:01,7.21.3\n"),
                        None, None, None)
    refusal = prepare(folder, rules, files=files, plugin=Plugin())
    assert isinstance(refusal, Refusal) and "the plugin picks" in refusal.reason


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"config_template": "t.rsc.j2", "script": "x.rsc"}, "choose one"),
    ({"config_template": "t.rsc.j2", "config_mode": ConfigMode.KEEP}, "drop one of them"),
    ({"unlisted": "maybe"}, "use refuse or default"),
    ({"device_mode": "mode=x; /quit"}, "--device-mode"),
    ({"inventory": "typo.csv", "config_template": "t.rsc.j2"},
     r"inventory: file not found: typo\.csv"),
])
def test_conflicts_and_mistakes_are_errors_at_start(folder, kwargs, message, monkeypatch):
    monkeypatch.chdir(folder)
    arguments = {"inventory": None, "config_template": None, "unlisted": None,
                 "device_mode": None, **kwargs}
    with pytest.raises(UsageError, match=message):
        board_rules(**arguments)


def test_names_and_row_templates_are_checked_at_start(folder):
    (folder / "typo.j2").write_text("{{ hostnme }}")
    with pytest.raises(UsageError, match="did you mean hostname"):
        board_rules(inventory(folder, "mac,hostname\n02:4e:49:00:00:01,r1\n"),
                    str(folder / "typo.j2"), None, None)
    with pytest.raises(UsageError, match=r"template: file not found: .*missing\.j2"):
        board_rules(inventory(folder, "mac,template\n02:4e:49:00:00:01,missing.j2\n"),
                    None, None, None)
    rules = board_rules(inventory(folder, "mac,template,hostname\n"
                                  "02:4e:49:00:00:01,t.rsc.j2,r1\n"), None, None, None)
    assert prepare(folder, rules).template == "t.rsc.j2"
    with pytest.raises(UsageError, match=r"mode_script .* is not a file"):
        board_rules(inventory(folder, "mac,mode_script\n02:4e:49:00:00:01,nope.rsc\n"),
                    None, None, None)


def test_inventory_settings_name_only_what_a_url_may_set(folder):
    with pytest.raises(UsageError, match="--inventory-settings template: give some of "
                                         "routeros, packages, config_mode"):
        board_rules(None, None, None, None, inventory_settings="routeros,template")


def test_a_refused_board_leaves_no_inventory_answer_behind(folder):
    """Issue 27 row 12: per-board answers were kept for the run, offered or not."""
    from nitools.station.plan.inventory import UrlInventory

    class Answers(UrlInventory):
        def __init__(self):
            super().__init__("http://inventory.invalid/boards/{mac}")
            self.asked = 0

        def _ask(self, url, mac, software_id):
            self.asked += 1
            return InventoryRow("mac=x", {"hostname": "r1", "routeros": "6.0"}, url,
                                from_url=False), 100

    inventory = Answers()
    rules = BoardRules(inventory, FirstBootTemplate.read(str(folder / "t.rsc.j2")))
    refusal = prepare(folder, rules)  # its row names a version the station cannot install
    assert isinstance(refusal, Refusal)
    assert len(inventory._answers) == 0 and inventory._kept_bytes == 0

