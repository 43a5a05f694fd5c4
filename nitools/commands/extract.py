"""``nitools extract``: write the boot images and ``bootimages.json``, or list them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from nitools import __version__
from nitools.console import cell, clean
from nitools.netboot.bootimages import ExtractError, Extraction, Image, extract_file

MANIFEST = "bootimages.json"


@dataclass
class Planned:
    image: Image
    sha256: str
    action: str = "write"  # write, unchanged, replace, conflict


def _sha256(data: Any) -> str:
    return hashlib.sha256(data).hexdigest()


def plan(extractions: list[Extraction], out_dir: Path) -> list[Planned]:
    """One entry per output file; the same image from two inputs is written once."""
    planned: dict[str, Planned] = {}
    for extraction in extractions:
        for image in extraction.images:
            digest = _sha256(image.data)
            earlier = planned.get(image.file_name)
            if earlier is not None:
                if earlier.sha256 != digest:
                    raise ExtractError(
                        f"{earlier.image.source} and {image.source} hold different "
                        f"{image.file_name} images: extract them into different folders")
                continue
            planned[image.file_name] = Planned(image, digest)
    for entry in planned.values():
        target = out_dir / entry.image.file_name
        if target.exists():
            same = target.stat().st_size == entry.image.size and \
                _sha256(target.read_bytes()) == entry.sha256
            entry.action = "unchanged" if same else "conflict"
    return list(planned.values())


def manifest(extractions: list[Extraction], entries: list[Planned]) -> dict[str, Any]:
    versions = {e.source: e.version for e in extractions}
    images = []
    for entry in entries:
        image, boot = entry.image, entry.image.boot_image
        images.append({
            "file": image.file_name,
            "arch": boot.name if boot else None,
            "package_family": boot.family if boot else None,
            "resource": image.resource,
            "resource_id": image.resource_id,
            "vendor_classes": list(boot.vendor_classes) if boot else [],
            "boot_file": image.file_name,
            "size": image.size,
            "sha256": entry.sha256,
            "source": image.source,
            "version": versions.get(image.source),
        })
    return {
        "generator": f"nitools {__version__}",
        "sources": [{"file": e.source, "kind": e.kind, "version": e.version,
                     "version_source": e.version_source, "warnings": e.warnings}
                    for e in extractions],
        "images": images,
    }


def _prepare_output(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExtractError(f"cannot create output folder {out_dir}: {exc.strerror}") from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ExtractError(f"output folder {out_dir} is not writable: choose another with -o")


def _stage(target: Path, data: Any) -> str:
    """Write ``data`` beside ``target`` under a temporary name; returns that name."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)  # dnsmasq serves files as an unprivileged user
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return temporary


def write(entries: list[Planned], out_dir: Path, force: bool, document: dict[str, Any]) -> None:
    """All or nothing: every file is written under a temporary name first; only when all
    of them are, are they renamed into place (the manifest last). A full disk leaves the
    folder as it was."""
    conflicts = [e for e in entries if e.action == "conflict"]
    if conflicts and not force:
        names = ", ".join(e.image.file_name for e in conflicts[:3])
        raise ExtractError(f"{names} already exist in {out_dir} with different content: "
                           "nothing written; use --force to replace them")
    changed = [e for e in entries if e.action != "unchanged"]
    staged: list[tuple[str, Path]] = []
    try:
        for entry in changed:
            target = out_dir / entry.image.file_name
            staged.append((_stage(target, entry.image.data), target))
        manifest_bytes = (json.dumps(document, indent=2) + "\n").encode()
        staged.append((_stage(out_dir / MANIFEST, manifest_bytes), out_dir / MANIFEST))
    except OSError as exc:
        _discard(staged)
        raise ExtractError(f"writing into {out_dir} failed: {exc.strerror}: nothing was "
                           "changed there; free some space and run again") from exc
    renamed: list[str] = []
    try:
        for temporary, target in staged:
            os.replace(temporary, target)
            renamed.append(target.name)
    except OSError as exc:
        _discard(staged[len(renamed):])
        raise ExtractError(f"renaming into {out_dir} failed after {', '.join(renamed) or 'none'}"
                           f": {exc.strerror}: run again to complete the set") from exc
    for entry in changed:
        entry.action = "replace" if entry.action == "conflict" else "write"


def _discard(staged: list[tuple[str, Path]]) -> None:
    for temporary, _ in staged:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def run_extract(inputs: list[str], out_dir: str, list_only: bool, as_json: bool,
                force: bool) -> int:
    extractions: list[Extraction] = []
    try:
        for path in inputs:
            extractions += extract_file(path)
        folder = Path(out_dir)
        entries = plan(extractions, folder)
        document = manifest(extractions, entries)
        if not list_only:
            _prepare_output(folder)
            write(entries, folder, force, document)
        _report(extractions, entries, document, folder, list_only, as_json)
    finally:
        for extraction in extractions:
            extraction.close()
    return 0


def _report(extractions: list[Extraction], entries: list[Planned], document: dict[str, Any],
            folder: Path, list_only: bool, as_json: bool) -> None:
    errors = Console(stderr=True, soft_wrap=True)
    for extraction in extractions:
        for warning in extraction.warnings:
            errors.print(clean(f"nitools: warning: {extraction.source}: {warning}"),
                         markup=False)
    if as_json:
        print(json.dumps(document, indent=2))
        return
    console = Console(width=None if sys.stdout.isatty() else 160)
    for extraction in extractions:
        version = extraction.version or "unknown version"
        console.print(clean(f"{extraction.source}: {extraction.kind}, {version}"
                            + (f" (from {extraction.version_source})"
                               if extraction.version_source else "")), markup=False)
    table = Table("file", "resource", "arch", "DHCP vendor classes", "size", "sha256", "action")
    for entry, record in zip(entries, document["images"], strict=True):
        action = "listed" if list_only else entry.action
        table.add_row(*(cell(v) for v in (record["file"], record["resource"],
                                          record["arch"] or "?",
                                          " ".join(record["vendor_classes"]), record["size"],
                                          record["sha256"][:16], action)))
    console.print(table)
    if not list_only:
        console.print(f"manifest: {folder / MANIFEST}", markup=False)
