"""The offline .rsc linter: bytes, syntax and first-boot pitfalls, with line numbers."""

import pytest

from nitools.routeros.rsc import ScriptContext, lint_script
from nitools.routeros.version import parse_version

GOOD_MULTILINE = b"""# 2025-06-10 18:46:11 by RouterOS 7.19.1
# software id = ABCD-EFGH
:local count 0
:while ([/interface ethernet find] = "" && $count < 30) do={ :delay 1s; :set count ($count + 1) }
/interface bridge
add name=bridge comment="LAN bridge #1"
/interface bridge port
add bridge=bridge interface=ether2 comment="a long \\
    comment that the export split"
/ip address
add address=192.168.88.1/24 interface=bridge \\
    network=192.168.88.0
:if ($action = "apply") do={
    :local name [/system identity get name]
    :put "identity is $name, literal \\$ and \\"quotes\\" and \\4F"
}
/system identity set name=router; # trailing comment
"""


def levels(findings):
    return [(f.level, f.line) for f in findings]


def test_correct_multiline_script_has_no_findings():
    assert lint_script(GOOD_MULTILINE, "good.rsc") == []


def test_crlf_line_endings_are_fine():
    assert lint_script(GOOD_MULTILINE.replace(b"\n", b"\r\n"), "crlf.rsc") == []


def test_mixed_line_endings_are_a_warning():
    (finding,) = lint_script(b":put 1\r\n:put 2\n", "mixed.rsc")
    assert finding.level == "warning" and "mixes line endings" in finding.message


def test_bom_is_an_error_on_line_1():
    findings = lint_script(b"\xef\xbb\xbf:put 1\n", "bom.rsc")
    assert levels(findings) == [("error", 1)]
    assert "byte order mark" in findings[0].message


@pytest.mark.parametrize(("data", "what"), [
    (b"\x88\xac\xa1\xb1" + bytes(64), "binary RouterOS backup"),
    (b"\xef\xa8\x91\x72" + bytes(64), "encrypted RouterOS backup"),
    (b"\x1e\xf1\xd0\xba" + bytes(64), "RouterOS package"),
    (b"/ip address\x00\x01\x02", "NUL bytes"),
])
def test_binary_files_are_refused(data, what):
    (finding,) = lint_script(data, "backup.rsc")
    assert finding.level == "error" and what in finding.message


# RouterOS's own parser accepts unbalanced brackets and a string left open at the end (the
# public corpus of scripts it parsed holds each shape): they are caught, as warnings.
def test_unbalanced_braces_point_at_the_opening_line():
    findings = lint_script(b":put 1\n:if (true) do={\n  :put 2\n", "open.rsc")
    assert levels(findings) == [("warning", 2)]
    assert "'{' is never closed" in findings[0].message


def test_wrong_closing_bracket_is_caught_and_leaves_the_open_one_open():
    findings = lint_script(b":put [/system identity get name)\n", "x.rsc")
    assert [(f.level, f.message.split(":")[0]) for f in findings] == [
        ("warning", "')' does not close the '[' opened on line 1"),
        ("warning", "'[' is never closed")]
    # The stray ')' is not taken for the block's end: the '}' still closes the '{'.
    findings = lint_script(b":if (true) do={ :put (1)) }\n", "x.rsc")
    assert [f.message.split(":")[0] for f in findings] == [
        "')' does not close the '{' opened on line 1"]


def test_stray_closing_bracket():
    (finding,) = lint_script(b":put 1 }\n", "x.rsc")
    assert finding.level == "warning" and "closes nothing" in finding.message


def test_unterminated_string_points_at_its_line():
    findings = lint_script(b':put 1\n:put "no end\n:put 3\n', "s.rsc")
    assert levels(findings) == [("warning", 2)]
    assert "not closed by the end of the script" in findings[0].message


def test_a_string_may_span_lines():
    script = b'/iot mqtt publish message="{\\"a\\": 1,\n\\"b\\": 2}" topic=t\n:put "x"\n'
    assert lint_script(script, "s.rsc") == []


def test_code_interpolated_into_a_string_holds_its_own_strings():
    script = (b':local hex "$[:pick "0123456789ABCDEF" 1 2]$("a" . "b")"\n'
              b':set s "$s$[[:parse "(\\"\\\\$t\\")"]]"\n')
    assert lint_script(script, "i.rsc") == []
    # An interpolation left open keeps its string open: both are caught.
    findings = lint_script(b':put "a $[:pick "b" 0 1"\n', "i.rsc")
    assert [f.message.split(":")[0] for f in findings] == [
        "string is not closed by the end of the script", "'[' is never closed"]


def test_string_continued_with_backslash_is_fine():
    assert lint_script(b':put "one \\\n    two"\n', "s.rsc") == []


def test_backslash_escapes_outside_strings_too():
    script = b":put [:parse ($a . \\$b)]\n/ip firewall filter add comment=\\C0\\A8 x=a\\\\.b\n"
    assert lint_script(script, "b.rsc") == []


def test_backslash_outside_a_string_is_an_error():
    (finding,) = lint_script(b"/ip address add address=1.1.1.1/24 \\ interface=bridge\n", "b.rsc")
    assert finding.level == "error" and "backslash outside a string" in finding.message


def test_blanks_after_continuation_backslash_warn():
    (finding,) = lint_script(b"/ip address add \\  \n    address=1.1.1.1/24 interface=bridge\n",
                             "b.rsc")
    assert finding.level == "warning" and finding.line == 1


@pytest.mark.parametrize(("escape", "message"), [
    (b"\\q", "unknown escape"), (b"\\?", "removed in RouterOS 7.1rc2"), (b"\\4f", "upper-case")])
def test_escapes(escape, message):
    (finding,) = lint_script(b':put "a' + escape + b'"\n', "e.rsc")
    assert finding.level == "warning" and message in finding.message


def test_space_around_equals_in_parameters_warns_but_not_in_expressions():
    (finding,) = lint_script(b"/ip route add gateway = 1.1.1.1\n", "eq.rsc")
    assert "space before '='" in finding.message
    assert lint_script(b':if ($a = "b") do={ :put 1 }\n', "eq.rsc") == []


def test_non_ascii_outside_strings_warns_once_per_line_inside_strings_only_info():
    findings = lint_script('/system identity set name=routér-café\n'.encode("latin-1"), "n.rsc")
    assert levels(findings) == [("info", None), ("warning", 1)]
    inside = lint_script('/system identity set name="routér"\n'.encode(), "n.rsc")
    assert [f.level for f in inside] == ["info"]


def test_interfaces_used_before_any_wait_warn():
    findings = lint_script(b"/ip address add address=1.1.1.1/24 interface=ether1\n", "w.rsc")
    assert [(f.level, f.line) for f in findings] == [("warning", 1)]
    assert "before waiting for interfaces" in findings[0].message
    waited = b":delay 15s\n/ip address add address=1.1.1.1/24 interface=ether1\n"
    assert lint_script(waited, "w.rsc") == []


def test_package_menus_need_their_package():
    script = b":delay 5s\n/container\nadd remote-image=alpine interface=veth1\n"
    context = ScriptContext(frozenset({"system"}), True, parse_version("7.16.1"))
    findings = lint_script(script, "c.rsc", context)
    # The menu line itself already fails when the menu does not exist.
    assert any("container package is not being installed" in f.message and f.line == 2
               for f in findings)
    with_package = ScriptContext(frozenset({"system", "container"}), True, parse_version("7.16"))
    assert lint_script(script, "c.rsc", with_package) == []


def test_wireless_menu_needs_the_package_only_from_7_13():
    script = b":delay 5s\n/interface wireless set wlan1 ssid=x\n"
    old = ScriptContext(frozenset({"system"}), True, parse_version("7.12"))
    new = ScriptContext(frozenset({"system"}), True, parse_version("7.16"))
    assert lint_script(script, "w.rsc", old) == []
    assert any("wireless package" in f.message for f in lint_script(script, "w.rsc", new))


def test_files_netinstall_does_not_transfer():
    findings = lint_script(b"/import more.rsc\n/certificate import file-name=ca.crt\n", "f.rsc")
    assert [f.line for f in findings] == [1, 2]


def test_delays_over_the_120_second_budget():
    findings = lint_script(b":delay 100s\n:delay 1m\n", "d.rsc")
    assert any("120 s" in f.message for f in findings)


def test_self_destructive_commands_and_device_mode():
    findings = lint_script(b":delay 1s\n/system reboot\n/system device-mode update container=yes\n",
                           "r.rsc")
    assert [f.line for f in findings] == [2, 3]
    mode = ScriptContext(mode_script=True)
    assert lint_script(b"/system device-mode update container=yes\n", "mode.rsc", mode) == []


def test_version_dependent_constructs():
    v6 = ScriptContext(version=parse_version("6.49.10"))
    findings = lint_script(b":delay 1s\n/ip/address/add address=1.1.1.1/24 interface=bridge\n",
                           "v.rsc", v6)
    assert any("need RouterOS 7" in f.message for f in findings)
    old7 = ScriptContext(version=parse_version("7.12"))
    findings = lint_script(b":onerror e in={ :put 1 } do={ :put $e }\n", "o.rsc", old7)
    assert any(":onerror needs RouterOS 7.13" in f.message for f in findings)


def test_empty_script_is_fine():
    assert lint_script(b"", "empty.rsc") == []
    assert lint_script(b"\n", "newline.rsc") == []


def test_the_linters_findings_are_bounded():
    # 200 kB of '{' gave 200,000 findings (540 MB). (The quadratic re-reading of a line at
    # every '=' is gone too: 320 kB of "a=b " went from 76 s to about 0.1 s, measured by
    # hand; timings stay out of the tests.)
    from nitools.routeros.rsc import MAX_FINDINGS

    findings = lint_script(b"{" * 200_000)
    assert len(findings) <= MAX_FINDINGS + 1
    assert "more findings not shown" in findings[-1].message
    spaced = lint_script(b"/ip address add address = 10.0.0.1/24\n" * 5000)
    assert len(spaced) <= MAX_FINDINGS + 1
    assert sum("space before '='" in f.message for f in spaced) >= MAX_FINDINGS - 5
    assert lint_script(b":put [/ip address find where address = 1.2.3.4]\n") == []
