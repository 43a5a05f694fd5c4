"""An offline linter for RouterOS scripts (.rsc) sent as first-boot scripts.

Without a router there is no complete parser; this checks what can be checked
(docs/formats.md §3): the bytes (binary files, BOM, encodings, line
endings, size), the lexical structure (strings, escapes, brackets, line
continuation, ``=`` spacing), and first-boot pitfalls, as warnings. Every
finding carries its line number and says what to do.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from nitools.routeros.findings import ERROR, INFO, WARNING, Finding
from nitools.routeros.version import RouterOSVersion, parse_version

_BINARY_PREFIXES = (
    (b"\x1e\xf1\xd0\xba", "a RouterOS package (.npk), not a script"),
    (b"\x88\xac\xa1\xb1", "a binary RouterOS backup, not a script: use '/export file=...' "
                          "to get a script"),
    (b"\xef\xa8\x91\x72", "an encrypted RouterOS backup, not a script: use '/export file=...'"),
    (b"PK\x03\x04", "a ZIP archive, not a script"),
)
_BOM = b"\xef\xbb\xbf"
_ESCAPES = set('"\\nrt$_abfv')
_HEX = set("0123456789ABCDEFabcdef")
_VERBS = {"add", "set", "remove", "print", "enable", "disable", "export", "find", "edit",
          "comment", "move", "reset", "unset", "run", "get", "import", "update", "monitor",
          "reset-counters", "upgrade", "install", "uninstall", "downgrade", "apply-changes"}
_READ_ONLY_VERBS = {"print", "export", "get", "find", "monitor"}
_INTERFACE_NAME = re.compile(r"\b(ether\d+|sfp\d+|sfp-sfpplus\d+|qsfp\w*\d|wlan\d+|wifi\d+|"
                             r"lte\d+|combo\d+)\b")
_DELAY = re.compile(r"(?:^|[\s;{(]):?delay\s+([0-9.]+)\s*(ms|s|m|h)?", re.IGNORECASE)
_WAIT = re.compile(r"(?:^|[\s;{(]):?(delay|while|retry|do)\b")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
SIZE_WARNING = 32 * 1024
SIZE_STRONG_WARNING = 60 * 1024
TIME_BUDGET = 120.0  # seconds a configure or mode script may run

# Menus that exist only with an extra package: (path words, package, needed from version)
_PACKAGE_MENUS = (
    (("interface", "wireless"), "wireless", "7.13"),
    (("caps-man",), "wireless", "7.13"),
    (("container",), "container", None),
    (("user-manager",), "user-manager", None),
    (("iot",), "iot", None),
    (("system", "gps"), "gps", None),
    (("dude",), "dude", None),
    (("zerotier",), "zerotier", None),
    (("tr069-client",), "tr069-client", None),
    (("system", "ups"), "ups", None),
)
# (path words, why, whether the path alone is already the command)
_SELF_DESTRUCTIVE = (
    (("system", "reset-configuration"), "resets the configuration the script is building", True),
    (("system", "reboot"), "reboots the board while its first-boot script runs", True),
    (("system", "package"), "changes packages during the first boot", False),
)


@dataclass(frozen=True)
class ScriptContext:
    """What the script will meet on the board, when known."""

    packages: frozenset[str] = frozenset()  # names of the packages being installed
    packages_known: bool = False
    version: RouterOSVersion | None = None  # RouterOS version being installed
    mode_script: bool = False  # a 7.22+ mode script rather than the configure script


@dataclass
class _Line:
    number: int  # first physical line of this logical line
    code: str  # strings emptied to "", comments removed
    text: str  # strings kept, comments removed


# RouterOS's own parser takes these shapes without a syntax error (docs/formats.md §3.1), so
# they are warnings: the script loads, but rarely does what was meant.
_ACCEPTED = "RouterOS accepts this, but it is rarely what was meant:"

MAX_FINDINGS = 100  # per script: a broken file must not cost time and memory per finding


@dataclass
class _Lexer:
    """Walks the script once, char by char, knowing strings and comments."""

    text: str
    subject: str
    findings: list[Finding] = field(default_factory=list)
    lines: list[_Line] = field(default_factory=list)

    suppressed: int = 0  # findings past MAX_FINDINGS, counted only

    def add(self, level: str, line: int, message: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(level, message, self.subject, line))
        else:
            self.suppressed += 1

    def run(self) -> None:
        # One state machine over the whole text: strings, comments, brackets and the code
        # interpolated into strings ("$[...]", "$(...)") interact.
        text, n = self.text, len(self.text)
        # Open brackets: (bracket, line, line of the string it interpolates into, or 0).
        stack: list[tuple[str, int, int]] = []
        interpolating = 0  # open brackets that interpolate into a string
        code: list[str] = []
        raw: list[str] = []
        line = start = 1
        i = 0
        string_line = 0
        in_string = False
        command_start = True  # where '#' starts a comment
        non_ascii_line = 0  # the last line told about a non-ASCII character (once per line)
        # Kept as the line grows, so that no check re-reads the line (linear time):
        last_solid = ""  # the last character of the line's code that is not blank
        word = ""  # the word being read (up to 6 characters: enough to know "where")
        where_seen = False  # the line has the word "where" (a find/print filter)
        while i < n:
            c = text[i]
            if in_string:
                if c == "\\":
                    nxt = text[i + 1] if i + 1 < n else ""
                    if nxt == "\n":  # inside a string, backslash-newline joins with nothing
                        line += 1
                        i += 2
                        continue
                    i += self._escape(text, i, line, raw)
                    continue
                if c == '"':
                    in_string = False
                    if not interpolating:
                        code.append('""')
                    raw.append(c)
                elif c == "$" and i + 1 < n and text[i + 1] in "([":
                    # "$[cmd]" and "$(expr)" are code inside the string, strings included
                    stack.append((text[i + 1], line, string_line))
                    interpolating += 1
                    in_string = False
                    raw.append(text[i:i + 2])
                    i += 2
                    continue
                else:
                    if c == "\n":  # RouterOS's parser takes a line break inside a string
                        line += 1
                    raw.append(c)
                i += 1
                continue

            if c == "#" and command_start:
                while i < n and text[i] != "\n":
                    i += 1
                continue
            if c == "\\":
                end = text.find("\n", i)
                rest = text[i + 1:] if end < 0 else text[i + 1:end]
                if rest.strip() == "":
                    if rest:
                        self.add(WARNING, line, "blanks after the continuation backslash: "
                                 "end the line with the backslash itself")
                    if end < 0:
                        break
                    line += 1
                    i = end + 1
                    code.append(" ")
                    raw.append(" ")
                    continue
                if rest[0] in " \t":
                    self.add(ERROR, line, "backslash outside a string followed by a blank: "
                             "to continue the line, end it with the backslash")
                    i += 1
                    continue
                # Outside strings too a backslash escapes the next character (\$, \\, \C0)
                command_start = False
                width = self._escape(text, i, line, raw)
                if not interpolating:
                    code.append(text[i:i + width])
                i += width
                continue
            if c == "\n":
                if interpolating:  # a line break inside "$[...]" stays inside the string
                    line += 1
                    raw.append(c)
                    i += 1
                    continue
                self.lines.append(_Line(start, "".join(code), "".join(raw)))
                code, raw = [], []
                last_solid, word, where_seen = "", "", False
                line += 1
                start = line
                command_start = True
                i += 1
                continue
            if c == '"':
                in_string, string_line = True, line
                raw.append(c)
                command_start = False
                i += 1
                continue
            if c in "([{":
                stack.append((c, line, 0))
                command_start = c == "{"
            elif c in ")]}":
                opening = {")": "(", "]": "[", "}": "{"}[c]
                if not stack:
                    self.add(WARNING, line, f"'{c}' closes nothing: {_ACCEPTED} remove it or "
                             f"add the opening '{opening}'")
                elif stack[-1][0] != opening:
                    # Not popped: the bracket that is open stays open for its own closer.
                    found, opened_on, _ = stack[-1]
                    self.add(WARNING, line, f"'{c}' does not close the '{found}' opened on line "
                             f"{opened_on}: {_ACCEPTED} close that one first")
                else:
                    _, _, into_string = stack.pop()
                    if into_string:  # back inside the string the code was interpolated into
                        interpolating -= 1
                        in_string, string_line = True, into_string
                        raw.append(c)
                        i += 1
                        continue
            elif c == ";":
                command_start = True
            elif c == "=":
                inside_expression = bool(stack) and stack[-1][0] == "("
                if (code and code[-1] in " \t" and last_solid.isalnum() and not inside_expression
                        and not where_seen and not interpolating):
                    self.add(WARNING, line, "space before '=': write name=value without spaces")
            elif ord(c) > 127 and non_ascii_line != line:
                non_ascii_line = line
                self.add(WARNING, line, f"non-ASCII character {c!r} outside a string or "
                         "comment: RouterOS reads it as single bytes; keep names ASCII or "
                         "quote the value")
            if not c.isspace() and c not in "{;":
                command_start = False
            if c in " \t":
                where_seen = where_seen or word == "where"
                word = ""
            else:
                last_solid = c
                word = (word + c)[:6]
            if not interpolating:
                code.append(c)
            raw.append(c)
            i += 1

        if in_string:
            self.add(WARNING, string_line, "string is not closed by the end of the script: "
                     f"{_ACCEPTED} add the closing \"")
        if code or raw:
            self.lines.append(_Line(start, "".join(code), "".join(raw)))
        for opening, opened_on, _ in stack:
            closing = {"(": ")", "[": "]", "{": "}"}[opening]
            self.add(WARNING, opened_on, f"'{opening}' is never closed: {_ACCEPTED} add the "
                     f"matching '{closing}'")
        if self.suppressed:
            self.findings.append(Finding(INFO, f"{self.suppressed} more findings not shown: "
                                         "fix the first ones and check again", self.subject))

    def _escape(self, text: str, i: int, line: int, raw: list[str]) -> int:
        """Reads the escape at text[i] (a backslash); returns how many characters it spans."""
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if nxt in _HEX and i + 2 < len(text) and text[i + 2] in _HEX:
            pair = nxt + text[i + 2]
            if not pair.isupper() and not pair.isdigit():
                self.add(WARNING, line, f"escape \\{pair} uses lower-case hex: write it "
                         "upper-case")
            raw.append(text[i:i + 3])
            return 3
        if nxt == "?":
            self.add(WARNING, line, "escape \\? was removed in RouterOS 7.1rc2: write a plain ?")
        elif nxt not in _ESCAPES:
            self.add(WARNING, line, f"unknown escape \\{nxt}: write \\\\ for a backslash")
        raw.append(text[i:i + 2])
        return 2


def lint_script(data: bytes, subject: str = "script",
                context: ScriptContext | None = None) -> list[Finding]:
    """Findings for one script, in line order."""
    context = context or ScriptContext()
    findings = _byte_checks(data, subject)
    if any(f.level == ERROR and f.line is None for f in findings):
        return findings  # binary: nothing more to read
    body = data[len(_BOM):] if data.startswith(_BOM) else data
    text = body.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n")
    lexer = _Lexer(text, subject)
    lexer.run()
    findings += lexer.findings
    findings += _first_boot_checks(lexer.lines, subject, context)
    findings.sort(key=lambda f: (f.line or 0))
    if len(findings) > MAX_FINDINGS + 1:
        extra = len(findings) - MAX_FINDINGS
        del findings[MAX_FINDINGS:]
        findings.append(Finding(INFO, f"{extra} more findings not shown: fix the first ones "
                                "and check again", subject))
    return findings


def _byte_checks(data: bytes, subject: str) -> list[Finding]:
    findings = []
    for prefix, what in _BINARY_PREFIXES:
        if data.startswith(prefix):
            return [Finding(ERROR, f"this is {what}", subject)]
    if b"\0" in data:
        return [Finding(ERROR, "contains NUL bytes: this is a binary file, not a script "
                        "(a backup? use '/export file=...')", subject)]
    if data.startswith(_BOM):
        findings.append(Finding(ERROR, "starts with a UTF-8 byte order mark, which RouterOS "
                                "reads as part of the first command: save without BOM", subject, 1))
    crlf = data.count(b"\r\n")
    cr = data.count(b"\r") - crlf
    lf = data.count(b"\n") - crlf
    if sum(1 for count in (crlf, cr, lf) if count) > 1:
        findings.append(Finding(WARNING, f"mixes line endings ({crlf} CR LF, {lf} LF, {cr} CR): "
                                "save with one kind", subject))
    try:
        data.removeprefix(_BOM).decode("ascii")
    except UnicodeDecodeError:
        findings.append(Finding(INFO, "contains non-ASCII bytes: RouterOS reads single bytes, "
                                "so UTF-8 text shows up garbled", subject))
    if len(data) > SIZE_STRONG_WARNING:
        findings.append(Finding(WARNING, f"{len(data)} bytes is large for a first-boot script "
                                "(RouterOS reads at most about 60 KiB in several places): split "
                                "it or fetch the rest at first boot", subject))
    elif len(data) > SIZE_WARNING:
        findings.append(Finding(WARNING, f"{len(data)} bytes: above 32 KiB some RouterOS tools "
                                "truncate scripts", subject))
    return findings


def _command_path(code: str, menu: tuple[str, ...]) -> tuple[tuple[str, ...] | None, bool]:
    """(menu path the line works in, whether the line only changes the menu)."""
    tokens = code.strip().split()
    if not tokens:
        return None, False
    if tokens[0].startswith("/"):
        words: list[str] = []
        complete = True
        for token in tokens:
            if "=" in token or token[0] in '["(:$':
                complete = False
                break
            words += [w for w in token.split("/") if w]
        path = list(words)
        while path and path[-1] in _VERBS:
            path.pop()
            complete = False
        return tuple(path), complete and path == words
    if tokens[0] in _VERBS:
        return menu, False
    return None, False


def _first_boot_checks(lines: Iterable[_Line], subject: str, context: ScriptContext
                       ) -> list[Finding]:
    findings: list[Finding] = []

    def add(level: str, line: int, message: str) -> None:
        findings.append(Finding(level, message, subject, line))

    version = context.version
    menu: tuple[str, ...] = ()
    waited = False
    warned_interface = False
    warned_packages: set[str] = set()
    delay_total = 0.0
    for line in lines:
        code = line.code
        for amount, unit in _DELAY.findall(code):
            with contextlib.suppress(ValueError):  # "1.2.3" is no delay
                delay_total += float(amount) * _UNITS[unit.lower() or None]
        path, menu_only = _command_path(code, menu)
        if menu_only and path is not None:
            menu = path
        if not warned_interface and not waited and not context.mode_script:
            match = _INTERFACE_NAME.search(line.text)
            if match:
                warned_interface = True
                add(WARNING, line.number, f"uses {match[1]} before waiting for interfaces: at "
                    "first boot they appear late; begin with a wait loop or ':delay 10s'")
        if _WAIT.search(code):
            waited = True
        if path:
            for words, package, since in _PACKAGE_MENUS:
                if path[:len(words)] != words or not context.packages_known:
                    continue
                if since and version is not None and version < parse_version(since):
                    continue
                if package not in context.packages and package not in warned_packages:
                    warned_packages.add(package)
                    add(WARNING, line.number, f"configures /{' '.join(words)}, but the {package} "
                        "package is not being installed: the script stops here at first boot")
            read_only = bool(_READ_ONLY_VERBS & set(code.split()))
            for words, why, is_command in _SELF_DESTRUCTIVE:
                if path[:len(words)] == words and not read_only and (is_command or not menu_only):
                    add(WARNING, line.number, f"/{' '.join(words)} {why}: leave it out of a "
                        "first-boot script")
            if path[:2] == ("system", "device-mode") and not menu_only and not context.mode_script:
                add(WARNING, line.number, "device-mode changes belong in a mode script "
                    "(--mode-script, RouterOS 7.22+), not the configure script")
            if version is not None and version.major < 7 and "/" in code.strip().split()[0][1:]:
                add(WARNING, line.number, "slash-separated paths need RouterOS 7: write "
                    "'/ip address add' for RouterOS 6")
        if re.search(r"(^|[\s;{/])import\b", code):
            add(WARNING, line.number, "imports a file, but netinstall transfers only this one "
                "script: put the commands here instead")
        elif re.search(r"\bfile(-name)?=", code):
            add(WARNING, line.number, "refers to a file that netinstall does not transfer to "
                "the board: fetch it in the script or add it later")
        if version is not None:
            if re.search(r"(^|[\s;{]):onerror\b", code) and version < parse_version("7.13"):
                add(WARNING, line.number, f":onerror needs RouterOS 7.13, installing {version}: "
                    "use ':do {...} on-error={...}'")
            if ("$defconfPassword" in code or "$defconfWifiPassword" in code) \
                    and version < parse_version("7.10beta8"):
                add(WARNING, line.number, f"$defconfPassword needs RouterOS 7.10beta8, "
                        f"installing {version}")
    if delay_total > TIME_BUDGET:
        add(WARNING, 0, f"the script waits {delay_total:g} s in :delay alone: first-boot scripts "
            f"are stopped after {TIME_BUDGET:g} s")
    return findings
