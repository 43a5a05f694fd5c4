"""First-boot templates: the sandbox, StrictUndefined, and values that stay values."""

import pytest

from nitools.errors import UsageError
from nitools.routeros.rsc import lint_script
from nitools.station.plan.first_boot import (
    Facts,
    FirstBootTemplate,
    RenderError,
    board_script,
    place_values,
)

HOSTILE = 'x"; /user add name=evil group=full; :put "'


def render(text: str, **values) -> str:
    return FirstBootTemplate("t.rsc.j2", text).render(values)


def errors(script: str) -> list:
    return [f for f in lint_script(script.encode(), "t") if f.level == "error"]


def test_a_hostile_value_in_quotes_stays_one_command():
    script = render('/system identity set name="{{ hostname }}"\n', hostname=HOSTILE)
    assert script == '/system identity set name="x\\"; /user add name=evil group=full; ' \
                     ':put \\""\n'
    assert script.count("\n") == 1 and not errors(script)


def test_a_value_outside_quotes_is_quoted_unless_a_plain_word():
    template = "/system identity set name={{ hostname }}\n/ip address add address={{ a }}\n"
    script = render(template, hostname=HOSTILE, a="10.0.0.1/24")
    assert script.splitlines() == [
        '/system identity set name="x\\"; /user add name=evil group=full; :put \\""',
        "/ip address add address=10.0.0.1/24"]
    assert not errors(script)
    assert render("{{ x }}\n", x="/system reboot") == '"/system reboot"\n'


def test_a_newline_in_a_value_never_starts_a_command():
    script = render('/system note set note="{{ n }}"\n:put {{ n }}\n# {{ n }}\n',
                    n="a\n/system reset-configuration")
    assert script.count("\n") == 3 and "\n/system reset" not in script
    assert not errors(script)


@pytest.mark.parametrize(("value", "expected"), [
    ("$[/system reboot]", '"\\$[/system reboot]"'),
    ("tab\there", '"tab\\there"'),
    ("Zürich", '"Z\\C3\\BCrich"'),
    (True, "yes"), (3, "3"), (None, '""'),
])
def test_values_of_every_kind(value, expected):
    assert render("{{ v }}", v=value) == expected


def test_raw_writes_a_value_as_it_is_but_only_one_line():
    assert render("/interface set mtu={{ m|raw }}\n", m="1500 l2mtu=1600") == \
        "/interface set mtu=1500 l2mtu=1600\n"
    with pytest.raises(RenderError, match="one line"):
        render("{{ m|raw }}", m="1\n/system reboot")
    with pytest.raises(RenderError, match="NUL"):
        render('"{{ m }}"', m="a\x00")


def test_the_sandbox_denies_python_internals():
    for text in ("{{ ''.__class__.__mro__ }}", "{{ x.__init__.__globals__ }}",
                 "{{ cycler.__init__ }}", "{{ x.mro() }}"):
        with pytest.raises(RenderError):
            render(text, x=str)


def test_a_template_cannot_read_files():
    with pytest.raises(RenderError):
        render('{% include "/etc/passwd" %}')


def test_undefined_names_are_found_at_start_and_at_render():
    template = FirstBootTemplate("t", "{{ hostnme }} {{ mac }} {% for v in vlans %}{{ v }}"
                                      "{% endfor %}")
    with pytest.raises(UsageError, match=r"'hostnme'.*did you mean hostname"):
        template.check_names({"hostname", "vlans"})
    template.check_names({"hostnme", "vlans"})  # facts (mac) and loop names are known
    with pytest.raises(RenderError, match="hostnme"):
        template.render({"mac": "m", "vlans": []})


def test_syntax_errors_and_marker_characters_are_refused_at_start():
    with pytest.raises(UsageError, match="line 2"):
        FirstBootTemplate("t", "ok\n{{ x \n")
    with pytest.raises(UsageError, match="control characters"):
        FirstBootTemplate("t", "a\x01b")


def test_escaped_quotes_in_the_template_text_keep_the_string_open():
    assert place_values('"a\\" \x01b c\x02"') == '"a\\" b c"'
    assert place_values('# say "x\n\x01b c\x02') == '# say "x\n"b c"'


def test_one_function_makes_a_boards_script_and_the_facts_win_over_the_row():
    from nitools.station.plan.first_boot import Facts, board_script

    template = FirstBootTemplate("t.rsc.j2", "/system identity set name={{ model }}-{{ site }}\n")
    script = board_script(template, {"model": "from-row", "site": "lab"}, Facts(model="RB5009"))
    assert script == "/system identity set name=RB5009-lab\n"


def test_a_fact_the_template_needs_and_nobody_knows_is_named():
    from nitools.station.plan.first_boot import Facts, MissingFact, board_script

    template = FirstBootTemplate("t.rsc.j2", ':put "{{ routeros }}"\n')
    with pytest.raises(MissingFact, match="'routeros'") as caught:
        board_script(template, {}, Facts(mac="02:4e:49:00:00:01"))
    assert caught.value.fact == "routeros"


def test_the_station_knows_every_fact_a_template_may_use():
    from nitools.netinstall.messages import Announcement
    from nitools.station.plan.first_boot import FACTS
    from nitools.station.plan.rules import BoardRules

    facts = BoardRules(station="line-1").facts(
        bytes.fromhex("024e49000001"), Announcement("ID", "", "RB", "arm64", "7.12"),
        "7.16.1", None)
    assert set(facts.known()) == set(FACTS)


def test_the_sandbox_holds_against_format_through_attr():
    """Issue 27 row 17: with jinja2 3.1.5 and older, |attr("format") reached str.format
    and the station's globals; the floor is 3.1.6, and this is what it stops."""
    template = FirstBootTemplate(
        "t.rsc.j2", '{{ "{0.__class__.__init__.__globals__}"|attr("format")(hostname) }}\n')
    with pytest.raises(RenderError, match="sandbox"):
        template.render({"hostname": "r1"})


def test_the_dependency_floors_keep_known_escapes_out():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[4] / "pyproject.toml").read_text())
    floors = dict(dep.split(">=", 1) for dep in project["project"]["dependencies"])
    assert tuple(map(int, floors["jinja2"].split(".")[:3])) >= (3, 1, 6)
    assert tuple(map(int, floors["urllib3"].split(".")[:2])) >= (2, 6)


@pytest.mark.parametrize("value", ["\x1b[2J\x1b]0;owned\x07", "a\x01b", "x\x9by", "\x7f"])
def test_raw_refuses_every_control_character_never_a_traceback(value):
    """Issue 27 row 15: an ESC sequence reached the script and the terminal; \\x01 (the
    placer's own marker) made render die with a ValueError."""
    template = FirstBootTemplate("t.rsc.j2", "/system note set note={{ v|raw }}\n")
    with pytest.raises(RenderError, match="control character"):
        template.render({"v": value})


def test_a_raw_tab_is_still_a_tab():
    template = FirstBootTemplate("t.rsc.j2", ":put {{ v|raw }}\n")
    assert template.render({"v": "a\tb"}) == ":put a\tb\n"


@pytest.mark.parametrize(("text", "said"), [
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "loops more than"),
    ("{{ 2 ** 100000 }}", "more than 1000 digits"),
    ('{{ "x" * 10000000 }}', "more than 1048576"),
    ("{% for i in range(100000) %}{% for j in range(9) %}{{ 'yyyy' }}{% endfor %}"
     "{% endfor %}", "more than 1048576 characters"),
])
def test_a_template_cannot_hold_a_worker_or_fill_the_memory(text, said):
    """Issue 27 row 16: nested range() loops hung a worker and render for ever;
    {{ 2 ** 100000 }} was a raw ValueError at load."""
    template = FirstBootTemplate("t.rsc.j2", text)  # loads: nothing is computed yet
    with pytest.raises(RenderError, match=said):
        template.render({})


def test_small_arithmetic_and_loops_still_work():
    template = FirstBootTemplate("t.rsc.j2", "{% for i in range(3) %}:put {{ 2 ** i * 10 }}\n"
                                             "{% endfor %}")
    assert template.render({}) == ":put 10\n:put 20\n:put 40\n"


@pytest.mark.parametrize("text", ['/system note set note="C:\\{{ v }}"\n',
                                  ':put "${{ v }}"\n'])
def test_a_value_glued_to_an_escape_or_a_dollar_is_refused_at_load(text):
    """Issue 27 row 14: after '\\' the value's first character is taken as escaped (its
    quote ends the string); after '$' the value becomes a variable or $[...] code."""
    with pytest.raises(UsageError, match="line 1: a value right after"):
        FirstBootTemplate("t.rsc.j2", text)


def test_a_continued_line_starting_with_hash_is_code_not_a_comment():
    """RouterOS: a backslash does not continue a comment, and the line it continues is
    no command start, so its '#' is not a comment: the value there is escaped."""
    template = FirstBootTemplate("t.rsc.j2", "/system identity set \\\n#{{ v }}\n")
    script = template.render({"v": 'x"; /user add name=evil; :put "'})
    assert script == '/system identity set \\\n#"x\\"; /user add name=evil; :put \\""\n'


def test_values_printed_through_set_blocks_and_macros_are_placed_once():
    template = FirstBootTemplate(
        "t.rsc.j2", "{% set line %}/system identity set name={{ v }}{% endset %}{{ line }}\n"
                    "{% macro note(x) %}/system note set note={{ x }}{% endmacro %}"
                    "{{ note(v) }}\n")
    assert template.render({"v": "a b"}) == ('/system identity set name="a b"\n'
                                             '/system note set note="a b"\n')


def test_a_list_in_a_csv_cell_is_looped_over_with_words_and_a_plain_text_is_refused():
    """Issue 29 row 1: docs/inventory.md's VLAN template looped over a CSV cell "10 20"
    character by character: `/interface vlan add name=vlan" " vlan-id=" "`, exit 0."""
    text = ('{% for vlan in vlans|words %}/interface vlan add name=vlan{{ vlan }} '
            'vlan-id={{ vlan }} interface=ether1\n{% endfor %}')
    template = FirstBootTemplate("vlans.rsc.j2", text)
    for cell in ("10 20", "10,20", "10, 20"):
        assert board_script(template, {"vlans": cell}, Facts()) == (
            "/interface vlan add name=vlan10 vlan-id=10 interface=ether1\n"
            "/interface vlan add name=vlan20 vlan-id=20 interface=ether1\n")
    assert board_script(template, {"vlans": [30]}, Facts()).count("vlan30") == 1  # JSON
    plain = FirstBootTemplate("vlans.rsc.j2", text.replace("vlans|words", "vlans"))
    with pytest.raises(RenderError, match=r"column 'vlans' is one text \('10 20'\), not a "
                       r"list: loop over 'vlans\|words'"):
        board_script(plain, {"vlans": "10 20"}, Facts())
