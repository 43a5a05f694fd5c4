"""Values written into RouterOS scripts so that they stay values (docs/inventory.md).

A RouterOS double-quoted string ends at an unescaped ``"``, substitutes ``$name``,
and takes ``\\`` escapes; a newline ends the command. ``escape`` writes any text as
the inside of such a string, using only printable ASCII: the result cannot end the
string, start a substitution or a new command, whatever the text was.
"""

from __future__ import annotations

import re

# Characters with a short escape of their own (docs/formats.md §3). ``?`` gets its hex
# form: ``\\?`` was removed in RouterOS 7.1rc2, ``\\3F`` means ``?`` in every version.
_SHORT = {"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_PRINTABLE_ASCII = range(0x20, 0x7F)
# A value that may stand outside quotes as it is: it starts with a letter or digit (so it
# cannot be a menu path, a command or a comment) and has no blank, quote, ``;``, ``$``,
# bracket or ``\\``. Addresses, prefixes, names and numbers are such values.
_BARE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+,-]*\Z")


class UnsafeValue(ValueError):
    """A value no escaping can make a safe script value."""


def escape(text: str) -> str:
    """``text`` as the inside of a RouterOS double-quoted string (without the quotes).

    Control and non-ASCII characters become ``\\XX`` hex escapes of their UTF-8 bytes,
    so that the board stores exactly the bytes the inventory held. NUL is refused:
    RouterOS strings cannot hold it."""
    if "\x00" in text:
        raise UnsafeValue("it contains a NUL character, which a RouterOS string cannot hold")
    out: list[str] = []
    for char in text:
        short = _SHORT.get(char)
        if short is not None:
            out.append(short)
        elif char == "?":
            out.append("\\3F")
        elif ord(char) in _PRINTABLE_ASCII:
            out.append(char)
        else:
            out.extend(f"\\{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def quote(text: str) -> str:
    """``text`` as a whole RouterOS double-quoted string."""
    return f'"{escape(text)}"'


def is_bare(text: str) -> bool:
    """True when ``text`` may stand outside quotes unchanged (see ``_BARE``)."""
    return bool(_BARE.match(text))


def check_raw(text: str) -> str:
    """A value the template marked ``|raw`` (written as it is): one line, and no control
    character at all (C0 and C1, tab aside: an ESC sequence would reach every terminal
    that shows the script)."""
    if "\x00" in text:
        raise UnsafeValue("it contains a NUL character")
    if "\n" in text or "\r" in text:
        raise UnsafeValue("a raw value must be one line: it would start a new command")
    control = next((c for c in text if c != "\t" and (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0)),
                   None)
    if control is not None:
        raise UnsafeValue(f"it contains the control character U+{ord(control):04X}")
    return text


_UNESCAPE = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "$": "$", "?": "?",
             "_": " ", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_HEX_DIGITS = set("0123456789ABCDEFabcdef")


def unescape(text: str) -> str:
    """The value of the inside of a RouterOS double-quoted string (``escape`` undone)."""
    out = bytearray()
    i = 0
    while i < len(text):
        char, pair = text[i], text[i + 1:i + 3]
        if char == "\\" and len(pair) == 2 and all(c in _HEX_DIGITS for c in pair):
            out.append(int(pair, 16))  # \XX: one byte
            i += 3
        elif char == "\\" and pair:
            out.extend(_UNESCAPE.get(pair[0], pair[0]).encode("utf-8"))
            i += 2
        else:
            out.extend(char.encode("utf-8"))
            i += 1
    return out.decode("utf-8", "replace")
