"""Escaping values for RouterOS double-quoted strings."""

import pytest

from nitools.routeros.rsc import lint_script
from nitools.routeros.strings import UnsafeValue, check_raw, escape, is_bare, quote


@pytest.mark.parametrize(("text", "escaped"), [
    ("plain", "plain"),
    ('say "hi"', 'say \\"hi\\"'),
    ("back\\slash", "back\\\\slash"),
    ("$var", "\\$var"),
    ("what?", "what\\3F"),
    ("two\nlines", "two\\nlines"),
    ("cr\r", "cr\\r"),
    ("tab\there", "tab\\there"),
    ("bell\x07", "bell\\07"),
    ("del\x7f", "del\\7F"),
    ("Zürich", "Z\\C3\\BCrich"),
    ("日本", "\\E6\\97\\A5\\E6\\9C\\AC"),
    ("", ""),
])
def test_the_escaping_table(text, escaped):
    assert escape(text) == escaped


def test_nul_cannot_be_made_safe():
    with pytest.raises(UnsafeValue, match="NUL"):
        escape("a\x00b")


@pytest.mark.parametrize("hostile", [
    'x"; /user add name=evil group=full; :put "',
    "a\n/system reset-configuration",
    "$[/system reboot]",
    "\\\"; /quit",
    "end\\",
])
def test_an_escaped_value_stays_inside_its_string(hostile):
    line = f"/system identity set name={quote(hostile)}\n"
    assert line.count("\n") == 1
    assert not [f for f in lint_script(line.encode(), "x.rsc") if f.level == "error"]
    # Walk the string as RouterOS does: it must end exactly at the closing quote.
    body = line[len("/system identity set name=\""):]
    index = 0
    while body[index] != '"':
        index += 2 if body[index] == "\\" else 1
    assert body[index + 1:] == "\n"


def test_escaped_values_are_printable_ascii_only():
    every_character = "".join(map(chr, range(1, 0x250)))
    assert all(0x20 <= ord(c) < 0x7F for c in escape(every_character))


@pytest.mark.parametrize(("text", "bare"), [
    ("r1", True), ("10.0.0.1/24", True), ("ether1,ether2", True), ("2001:db8::1", True),
    ("/system", False), (":put", False), ("#x", False), ("a b", False), ("a;b", False),
    ("a$b", False), ("", False), ("-x", False), ('a"b', False),
])
def test_only_plain_words_may_stand_outside_quotes(text, bare):
    assert is_bare(text) is bare


def test_raw_values_must_be_one_line_without_nul():
    assert check_raw("1500") == "1500"
    for bad in ("a\nb", "a\rb", "a\x00b"):
        with pytest.raises(UnsafeValue):
            check_raw(bad)
