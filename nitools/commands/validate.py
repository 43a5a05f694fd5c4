"""``nitools validate`` and ``nitools info``: read packages and scripts, print findings."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from nitools.console import cell, clean
from nitools.errors import NitoolsError, PackageError, UsageError
from nitools.netinstall.protocol import CONFIG_SCRIPT_NAME, MODE_SCRIPT_NAME
from nitools.routeros.findings import ERROR, WARNING, Finding
from nitools.routeros.npk import Package, read_package
from nitools.routeros.rsc import ScriptContext, lint_script
from nitools.routeros.validate import ScriptCheck, board_for, check_install
from nitools.station.plan.prepare import transfer_limits

_STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def package_record(path: str, package: Package) -> dict[str, Any]:
    built = datetime.fromtimestamp(package.build_time, timezone.utc)
    return {
        "file": path, "name": package.name, "version": str(package.version),
        "arch": package.arch, "channel": package.channel, "kind": package.kind,
        "description": package.description, "size": package.size,
        "build_time": built.isoformat(), "signature_length": package.signature_length,
        "signature": package.signature_kind,
        "digest_ok": package.digest_ok,
        "dependencies": [{"name": d.name, "min": str(d.min_version), "max": str(d.max_version)}
                         for d in package.dependencies],
    }


def _read_script(path: str | None, mode_script: bool) -> ScriptCheck | None:
    if path is None:
        return None
    try:
        return ScriptCheck(os.path.basename(path), Path(path).read_bytes(), mode_script)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def is_script_path(path: str) -> bool:
    """A file given on its own is a script when its name says so; anything else is read
    as a package (and a file that is neither gets the package reader's clear error)."""
    return path.lower().endswith(".rsc")


def run_validate(paths: list[str], arch: str | None, min_version: str | None, config: str | None,
                 mode_script: str | None, as_json: bool) -> int:
    board = board_for(arch, min_version)
    paired = [s for s in (_read_script(config, False), _read_script(mode_script, True)) if s]
    package_paths = [p for p in paths if not is_script_path(p)]
    # Scripts named on their own are linted each as a script: no package, no pairing.
    alone = [_script_alone(p) for p in paths if is_script_path(p)]
    packages: list[tuple[str, Package]] = []
    records, findings = [], []
    for path in package_paths:
        try:
            package = read_package(path, label=os.path.basename(path))
        except PackageError as exc:
            findings.append(Finding(ERROR, str(exc), os.path.basename(path)))
            continue
        packages.append((os.path.basename(path), package))
        records.append(package_record(path, package))
    if package_paths and len(packages) == len(package_paths):
        sizes = [p.size for _, p in packages] + [len(s.data) for s in paired]
        findings += check_install(packages, board, transfer_limits(sizes), paired)
        linted_alone = alone
    else:  # pairing rules need every package; still lint the scripts on their own
        linted_alone = paired + alone
    script_records = []
    for script in linted_alone:
        found = lint_script(script.data, script.name, ScriptContext(mode_script=script.mode_script))
        findings += found
        script_records.append({"file": script.name,
                               "errors": sum(f.level == ERROR for f in found),
                               "warnings": sum(f.level == WARNING for f in found)})
    error_count = sum(f.level == ERROR for f in findings)
    if as_json:
        print(json.dumps({"packages": records, "scripts": script_records,
                          "findings": [f.as_dict() for f in findings],
                          "errors": error_count,
                          "warnings": sum(f.level == WARNING for f in findings)}, indent=2))
    else:
        console = _console()
        _print_packages(console, records)
        _print_findings(console, findings)
        what = [f"{len(package_paths)} package(s)"] if package_paths else []
        what += [CONFIG_SCRIPT_NAME if not s.mode_script else MODE_SCRIPT_NAME for s in paired]
        what += [f"{len(alone)} script(s)"] if alone else []
        verdict = "fails" if error_count else "passes"
        console.print(f"{', '.join(what)}: validation {verdict} ({error_count} error(s))",
                      markup=False)
    return 1 if error_count else 0


def _script_alone(path: str) -> ScriptCheck:
    script = _read_script(path, False)
    assert script is not None  # a path was given
    return ScriptCheck(path, script.data)  # the path as given: many scripts share a name


def run_info(paths: list[str], as_json: bool) -> int:
    records, failures = [], []
    for path in paths:
        try:
            records.append(package_record(path, read_package(path)))
        except NitoolsError as exc:
            failures.append(str(exc))
    if as_json:
        print(json.dumps({"packages": records, "errors": failures}, indent=2))
    else:
        _print_packages(_console(), records)
        for failure in failures:
            _console(stderr=True).print(clean(f"nitools: error: {failure}"), markup=False)
    return 1 if failures else 0


def _console(stderr: bool = False) -> Console:
    # Pipes and log files get a wide table instead of 80 columns of wrapped text.
    stream_is_tty = (sys.stderr if stderr else sys.stdout).isatty()
    return Console(stderr=stderr, width=None if stream_is_tty else 160)


def _print_packages(console: Console, records: list[dict[str, Any]]) -> None:
    if not records:
        return
    table = Table("file", "name", "version", "arch", "channel", "built", "size", "digest")
    for r in records:
        digest = {True: "ok", False: "BAD", None: "none"}[r["digest_ok"]]
        table.add_row(*(cell(v) for v in (os.path.basename(r["file"]), r["name"], r["version"],
                                          r["arch"], r["channel"], r["build_time"][:10],
                                          r["size"], digest)))
    console.print(table)


def _print_findings(console: Console, findings: list[Finding]) -> None:
    if not findings:
        console.print("no findings")
        return
    table = Table("level", "where", "finding")
    for f in findings:
        where = f.subject + (f":{f.line}" if f.line else "")
        table.add_row(cell(f.level, _STYLES[f.level]), cell(where), cell(f.message))
    console.print(table)
