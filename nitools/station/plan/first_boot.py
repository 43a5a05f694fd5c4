"""First-boot scripts made per board from a Jinja2 template (``--config-template``).

Injection-proof by default (docs/inventory.md): the template runs in Jinja2's sandbox
(no attribute of Python's internals, no file access: there is no loader) with
``StrictUndefined``; every value it prints is escaped for a RouterOS double-quoted
string, and a value printed outside quotes is quoted unless it is a plain word
(``routeros.strings.is_bare``). Only ``|raw`` writes a value as it is, and only a
one-line one. The rendered script then goes through the .rsc linter before any offer.

How: values leave Jinja2 wrapped in two marker characters; once the whole script is
rendered, one pass that knows where RouterOS strings and comments are puts each value
in place, escaped for where it landed. The markers can come from nowhere else: the
template may not hold them, escaped values are printable ASCII, raw values are
refused with control characters.
"""

from __future__ import annotations

import contextvars
import difflib
import math
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

from nitools.errors import NitoolsError, UsageError
from nitools.routeros.strings import UnsafeValue, check_raw, escape, is_bare
from nitools.station.plan.payload import read_setting_file

MAX_TEMPLATE_BYTES = 1 << 20
# One board's render, whatever the template does (a row's template column can pick one):
RENDER_SECONDS = 2.0  # a script renders in milliseconds
MAX_SCRIPT_CHARS = 1 << 20  # a first-boot script is a few kB
MAX_LOOP_STEPS = 1_000_000  # range() steps of all its loops together
MAX_DIGITS = 1000  # the largest number ``**`` may make
_OPEN, _CLOSE = "\x01", "\x02"  # around each printed value until it is placed
_GLUED = re.compile(r"([\\$])\{\{")  # a value glued to an escape or a $ (docs/inventory.md)


class RenderError(NitoolsError):
    """This board's script cannot be made: the board is refused with this reason."""


class MissingFact(RenderError):
    """The template uses a board fact that is not known here (``render`` without a board)."""

    def __init__(self, template: str, facts: list[str]) -> None:
        named = ", ".join(f"'{fact}'" for fact in facts)
        super().__init__(f"{template} uses the board fact{'s' if len(facts) > 1 else ''} "
                         f"{named}, not known here")
        self.facts = facts  # every one missing, in the order of FACTS
        self.fact = facts[0]


@dataclass(frozen=True)
class Facts:
    """What the station knows of a board besides its inventory row: the names a template
    may use for it. None: not known here."""

    mac: str | None = None
    macs: list[str] | None = None  # every port MAC it announced with
    software_id: str | None = None
    model: str | None = None
    arch: str | None = None
    min_version: str | None = None
    routeros: str | None = None  # the version being installed
    station: str | None = None
    port: str | None = None  # the interface it announced on

    def known(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


FACTS = tuple(f.name for f in fields(Facts))  # the facts a template may use, declared once


def board_script(template: FirstBootTemplate, row_values: Mapping[str, Any], facts: Facts
                 ) -> str:
    """THE first-boot script of one board, for the station and for ``render`` alike: the
    row's values, the facts over them, rendered by the template. MissingFact names a
    fact the template needs that is not known; RenderError says any other reason."""
    columns = {name: _Column(value, name) if isinstance(value, str) else value
               for name, value in row_values.items()}
    values = {**columns, **facts.known()}
    missing = sorted((template.variables & set(FACTS)) - set(values))
    if missing:
        raise MissingFact(template.name, [fact for fact in FACTS if fact in missing])
    return template.render(values)


class _Column(str):
    """A column's text. One text, not a list: a loop over it would go character by
    character (``vlan-id=" "`` from "10 20"), so it is refused, naming the way that
    works."""

    column: str

    def __new__(cls, value: str, column: str) -> _Column:
        text = super().__new__(cls, value)
        text.column = column
        return text

    def __iter__(self) -> Iterator[str]:
        raise RenderError(f"column '{self.column}' is one text ({str(self)[:30]!r}), not a "
                          f"list: loop over '{self.column}|words' (the values separated by "
                          "blanks or commas)")


def _words(value: Any) -> list[Any]:
    """``vlans|words``: a column's values separated by blanks or commas, as ``packages``
    is read ("10 20", "10,20"); a JSON list as it is."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return _text(value).replace(",", " ").split()


class _Raw(str):
    """A value the template asked to be written as it is (``|raw``)."""


def _raw(value: Any) -> _Raw:
    return _Raw(_text(value))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"  # RouterOS's own spelling of booleans
    return "" if value is None else str(value)


def _finalize(value: Any) -> str:
    """Every ``{{ ... }}``: raw values checked, all others escaped and marked."""
    if isinstance(value, _Raw):
        try:
            return check_raw(str(value))
        except UnsafeValue as exc:
            raise RenderError(f"raw value {str(value)[:40]!r} cannot be used: {exc}") from None
    text = _text(value)  # StrictUndefined raises here for a name nothing defines
    if _OPEN in text or _CLOSE in text:
        # Output of the template itself ({% set %} blocks, macros): its values are marked
        # already and are placed once. Markers come from nowhere else (escaped values are
        # printable, raw ones refuse control characters, the template may not hold them).
        return text
    try:
        return _OPEN + escape(text) + _CLOSE
    except UnsafeValue as exc:
        raise RenderError(f"value {text[:40]!r} cannot be used: {exc}") from None


class _Budget:
    """What one render may still spend: loop steps and time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.steps = MAX_LOOP_STEPS
        self.deadline = time.monotonic() + RENDER_SECONDS

    def spend(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise RenderError(f"template {self.name} loops more than {MAX_LOOP_STEPS} times")
        if self.steps % 1024 == 0:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderError(f"template {self.name} took more than {RENDER_SECONDS:g} s")


_BUDGET: contextvars.ContextVar[_Budget] = contextvars.ContextVar("render_budget")


def _counted_range(*args: int) -> Iterator[int]:
    """``range`` as the sandbox allows it, each step paid from the render's budget."""
    budget = _BUDGET.get()
    for number in safe_range(*args):
        budget.spend()
        yield number


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with ``**`` and ``*`` kept from making numbers or text too large to
    print (and never folded at load: ``{{ 2 ** 100000 }}`` is a render error)."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, (int, float)) \
                and isinstance(right, (int, float)) and abs(left) > 1 and right > 0 \
                and right * math.log10(abs(left)) > MAX_DIGITS:
            raise RenderError(f"{left} ** {right} has more than {MAX_DIGITS} digits")
        if operator == "*":
            for many, times in ((left, right), (right, left)):
                if isinstance(many, (str, list, tuple)) and isinstance(times, int) \
                        and len(many) * times > MAX_SCRIPT_CHARS:
                    raise RenderError(f"'*' would make {len(many) * times} items or "
                                      f"characters, more than {MAX_SCRIPT_CHARS}")
        return super().call_binop(context, operator, left, right)


def _environment() -> ImmutableSandboxedEnvironment:
    environment = _Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize,
        keep_trailing_newline=True, loader=None)
    environment.filters["raw"] = _raw
    environment.filters["words"] = _words
    environment.globals["range"] = _counted_range
    return environment


_ENVIRONMENT = _environment()
# Names every template has of its own (Jinja2's globals and words): no inventory column
# may hide one.
TEMPLATE_NAMES = frozenset(_ENVIRONMENT.globals) | {"loop", "self", "true", "false", "none",
                                                    "True", "False", "None"}


class FirstBootTemplate:
    """One template, read and compiled once at start; rendered per board (thread-safe)."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        glued = _GLUED.search(text)
        if glued is not None:
            line = text.count("\n", 0, glued.start()) + 1
            raise UsageError(f"template {name} line {line}: a value right after "
                             f"'{glued.group(1)}' cannot be escaped (it would continue an "
                             "escape or a $[...]): put a space or text between them")
        if _OPEN in text or _CLOSE in text:
            raise UsageError(f"template {name} holds control characters \\x01/\\x02: "
                             "remove them")
        try:
            parsed = _ENVIRONMENT.parse(text)
            self._template = _ENVIRONMENT.from_string(text)
        except jinja2.TemplateSyntaxError as exc:
            raise UsageError(f"template {name} line {exc.lineno}: {exc.message}: fix the "
                             "template") from None
        self.variables = frozenset(meta.find_undeclared_variables(parsed))

    @classmethod
    def read(cls, path: str) -> FirstBootTemplate:
        data = read_setting_file(path, "template", MAX_TEMPLATE_BYTES)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"template {path} is not UTF-8 text") from None
        return cls(os.path.basename(path), text)

    def check_names(self, columns: Iterable[str]) -> None:
        """Every name the template uses is a board fact or an inventory column."""
        known = set(FACTS) | set(columns)
        for name in sorted(self.variables - known):
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f": did you mean {close[0]}?" if close else \
                ": add the column to the inventory or set it in the template"
            raise UsageError(f"template {self.name} uses '{name}', which is neither an "
                             f"inventory column nor a board fact{hint}")

    def render(self, values: Mapping[str, Any]) -> str:
        """The script for one board; RenderError says why it cannot be made."""
        budget = _Budget(self.name)
        token = _BUDGET.set(budget)
        try:
            rendered = self._generate(values, budget)
        except RenderError:
            raise
        except jinja2.UndefinedError as exc:
            raise RenderError(f"template {self.name}: {exc.message}") from None
        except jinja2.exceptions.SecurityError as exc:
            raise RenderError(f"template {self.name} was stopped by the sandbox: {exc}") \
                from None
        except Exception as exc:  # a filter given the wrong kind of value, and such
            raise RenderError(f"template {self.name}: {type(exc).__name__}: {exc}") from None
        finally:
            _BUDGET.reset(token)
        return place_values(rendered)

    def _generate(self, values: Mapping[str, Any], budget: _Budget) -> str:
        """The rendered text, piece by piece, within the render's budget."""
        pieces, size = [], 0
        for piece in self._template.generate(values):
            size += len(piece)
            if size > MAX_SCRIPT_CHARS:
                raise RenderError(f"template {self.name} makes more than {MAX_SCRIPT_CHARS} "
                                  "characters: not a first-boot script")
            budget.check_time()
            pieces.append(piece)
        return "".join(pieces)


def place_values(rendered: str) -> str:
    """Put each marked value in place: as it is inside a string or a comment, else as
    it is when a plain word, else in quotes (docs/inventory.md, "escaping")."""
    out: list[str] = []
    in_string = in_comment = False
    command_start = True  # where '#' starts a comment
    i, n = 0, len(rendered)
    while i < n:
        char = rendered[i]
        if char == _OPEN:
            end = rendered.find(_CLOSE, i)
            if end < 0:  # a marker the template did not make: never a traceback
                raise RenderError("the script holds control characters \\x01/\\x02: "
                                  "remove them")
            value = rendered[i + 1:end]
            i = end + 1
            if in_string or in_comment or is_bare(value):
                out.append(value)
            else:
                out.append(f'"{value}"')
            command_start = False
            continue
        out.append(char)
        i += 1
        if in_comment:
            if char == "\n":
                in_comment, command_start = False, True
        elif in_string:
            if char == "\\" and i < n and rendered[i] != _OPEN:
                out.append(rendered[i])  # an escape: the next character is not the end
                i += 1
            elif char == '"':
                in_string = False
            elif char == "\n":  # an unclosed string: the linter reports it
                in_string, command_start = False, True
        elif char == '"':
            in_string, command_start = True, False
        elif char == "#" and command_start:
            in_comment = True
        elif char == "\n":  # a line ended with '\' continues: its next line starts nothing
            command_start = i < 2 or rendered[i - 2] != "\\"
        elif char in ";{[(":
            command_start = True
        elif char not in " \t\\":
            command_start = False
    return "".join(out)
