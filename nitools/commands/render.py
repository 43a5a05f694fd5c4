"""``nitools render``: the first-boot script each board would get, with no board present:
for review, and for checking an inventory in CI (docs/inventory.md).

The station renders with facts the board announces (model, architecture, ...); here
they come from the row (``mac``, ``software_id``, ``model``), ``--routeros`` and
``--fact NAME=VALUE``. A template that uses a fact render was not given fails with
the name to give, never with a made-up value.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from nitools.console import counted
from nitools.errors import NitoolsError, UsageError
from nitools.netinstall.frame import format_mac, parse_mac, parse_mac_option
from nitools.netinstall.messages import is_software_id
from nitools.routeros.findings import ERROR, WARNING, Finding
from nitools.routeros.rsc import ScriptContext, lint_script
from nitools.routeros.version import try_parse_version
from nitools.station.engine.contract import ConfigMode
from nitools.station.plan.first_boot import FACTS, Facts, MissingFact, RenderError, board_script
from nitools.station.plan.inventory import InventoryRow, TableInventory
from nitools.station.plan.rules import BoardRules, board_rules

log = logging.getLogger("nitools.render")


@dataclass(frozen=True)
class Board:
    """One board as render knows it: from the command line or an inventory row."""

    mac: bytes | None
    software_id: str
    model: str

    @property
    def file_name(self) -> str:
        if self.mac is not None:
            return format_mac(self.mac).replace(":", "-") + ".rsc"
        return f"software-id-{self.software_id}.rsc"

    @property
    def label(self) -> str:
        return format_mac(self.mac) if self.mac is not None else self.software_id


BoardFacts = dict[str, str]
FactsGiven = dict[str | bytes, BoardFacts]  # "" -> every board's; a MAC or software ID


def parse_facts(texts: Sequence[str]) -> FactsGiven:
    """``--fact NAME=VALUE`` for every board, ``--fact NAME@BOARD=VALUE`` for one (its
    MAC or software ID): a mixed line is rendered each board with its own."""
    given: FactsGiven = {"": {}}
    for text in texts:
        left, equals, value = text.partition("=")
        name, _, board = left.partition("@")
        if not equals or name.strip() not in FACTS:
            raise UsageError(f"--fact {text}: give NAME=VALUE (or NAME@MAC=VALUE for one "
                             f"board) with NAME one of {', '.join(FACTS)}")
        key: str | bytes = ""
        if board.strip():
            try:
                key = parse_mac(board.strip())
            except ValueError:
                if not is_software_id(board.strip()):
                    raise UsageError(f"--fact {text}: '{board}' is neither a MAC nor a "
                                     "software ID") from None
                key = board.strip()
        given.setdefault(key, {})[name.strip()] = value
    return given


def facts_for(given: FactsGiven, board: Board) -> BoardFacts:
    """Every board's facts, then this board's own over them."""
    mine = given.get(board.mac, {}) if board.mac is not None else {}
    return {**given.get("", {}), **given.get(board.software_id, {}), **mine}


def render_board(rules: BoardRules, board: Board, routeros: str | None,
                 facts: dict[str, str]) -> tuple[str, list[Finding]]:
    """The script for one board, linted, and the linter's warnings; NitoolsError says why
    there is none."""
    assert rules.inventory is not None
    mac = board.mac if board.mac is not None else b"\0" * 6
    row = rules.inventory.row_for(mac, board.software_id, facts.get("model", board.model))
    mode = row.config_mode
    if mode is not None and mode is not ConfigMode.SCRIPT:
        raise RenderError(f"{row.where} says config_mode={mode.value}: this board gets no "
                          "script")
    template = rules.template_for(row)
    if template is None:
        raise UsageError("no template: give --config-template, or a template column")
    notes = []
    if routeros and row.routeros and row.routeros != routeros:
        notes.append(Finding(WARNING, f"{row.where} installs RouterOS {row.routeros}, not "
                             f"--routeros {routeros}: the row wins, as on the station"))
    known = replace(_known_facts(row, board, routeros, rules), **facts)  # --fact wins
    try:
        script = board_script(template, row.template_values(), known)
    except MissingFact as exc:  # every fact missing at once, each with how to give it
        hints = " ".join("--routeros VERSION" if fact == "routeros" else f"--fact {fact}=..."
                         for fact in exc.facts)
        named = ", ".join(f"'{fact}'" for fact in exc.facts)
        plural = "s" if len(exc.facts) > 1 else ""
        raise UsageError(f"{template.name} uses the board fact{plural} {named}, which "
                         f"render does not know for {board.label}: give "
                         f"{hints} (NAME@{board.label}=VALUE for this board alone)") from None
    context = ScriptContext(version=try_parse_version(known.routeros or ""))
    findings = lint_script(script.encode("utf-8"), template.name, context)
    problems = [finding for finding in findings if finding.level == ERROR]
    if problems:
        raise RenderError(f"the script made by {template.name} fails the linter: "
                          f"{problems[0]}")
    return script, notes + [finding for finding in findings if finding.level == WARNING]


def _known_facts(row: InventoryRow, board: Board, routeros: str | None, rules: BoardRules
                 ) -> Facts:
    """What render knows of a board without it: the command line's, then the row's."""
    mac = format_mac(board.mac) if board.mac is not None else None
    # The station's precedence: the board's row over the station's --routeros
    version = row.routeros or routeros
    return Facts(mac=mac, macs=[mac] if mac is not None else None,
                 software_id=board.software_id or row.text("software_id") or None,
                 model=board.model or row.text("model") or None,
                 arch=row.text("arch") or None,  # a column of that name says it
                 routeros=version if version and try_parse_version(version) is not None
                 else None,  # a channel is not a version
                 station=rules.station or None)


def run_render(inventory: str, config_template: str | None, macs: Sequence[str],
               software_ids: Sequence[str], render_all: bool, out_dir: str | None,
               routeros: str | None, fact_texts: Sequence[str], station: str | None) -> int:
    facts = parse_facts(fact_texts)
    if render_all == bool(macs or software_ids):
        raise UsageError("give --mac / --software-id for some boards, or --all -o DIR for "
                         "every board of the inventory")
    if render_all and not out_dir:
        raise UsageError("--all writes one file per board: give -o DIR")
    rules = board_rules(inventory, config_template, None, None, station or "")
    if render_all and not isinstance(rules.inventory, TableInventory):
        raise UsageError("--all needs an inventory file (or a URL answering a list): a "
                         "per-board URL is asked board by board: give --mac or --software-id")
    if render_all:
        assert isinstance(rules.inventory, TableInventory)
        boards = [Board(mac, software_id or "", model or "")
                  for _, mac, software_id, model in rules.inventory.keyed_rows()]
    else:
        boards = [Board(_one_mac(text), "", "") for text in macs]
        for text in software_ids:
            if not is_software_id(text):
                raise UsageError(f"--software-id {text!r}: letters, digits and dashes, as a "
                                 "board announces it")
            boards.append(Board(None, text, ""))
    failed = 0
    for board in boards:
        try:
            script, warnings = render_board(rules, board, routeros, facts_for(facts, board))
        except NitoolsError as exc:  # not listed, a fact missing, a render or lint error
            failed += 1
            print(f"{board.label}: {exc}", file=sys.stderr)
            continue
        for finding in warnings:  # what the station would log for this board
            print(f"{board.label}: warning: {finding}", file=sys.stderr)
        if out_dir:
            _write_atomically(_inside(Path(out_dir), board.file_name), script)
        else:
            sys.stdout.write(script)
    if out_dir:
        print(f"{counted(len(boards) - failed, 'script')} written to {out_dir}"
              + (f"; {counted(failed, 'board has', 'boards have')} none (above)" if failed
                 else ""), file=sys.stderr)
    return 1 if failed else 0


def _inside(folder: Path, name: str) -> Path:
    """``folder/name``, which must stay inside ``folder`` (names come from inventories)."""
    path = (folder / name).resolve()
    if path.parent != folder.resolve():
        raise UsageError(f"{name!r} would be written outside {folder}: not a board's file "
                         "name")
    return path


def _write_atomically(path: Path, text: str) -> None:
    """A file is there whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _one_mac(text: str) -> bytes:
    (mac,) = parse_mac_option(text)
    return mac
